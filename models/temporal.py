"""Temporal stages: enhancers that filter frame t from a window of its neighbours (``temporalfix``).

A temporal stage declares its window (``window_before``, ``window_after``) and implements
``process_window``; the video pipeline (app/pipeline/temporal.py) streams windows to it in order. In a chain
it comes last, after the per-frame links, and sees their outputs. ``process`` treats each frame of a batch
as a still (a one-frame video), so images and model-only benchmarks still work.

A *recursive* stage (``stabilize``, models/stabilize.py) feeds each output into the next: the pipeline
gives it, per video, a state of its own (``new_state``) and calls ``filter_frame`` with frame t itself,
its source frame (the chain's input) and whether t starts a scene (the video's first frame, or a cut).
"""

from __future__ import annotations

import torch

from .base import Enhancer, EnhancerInfo
from .specs import ModelSpec
from .temporalfix import (
    CENTER,
    load_temporalfix,
    temporalfix_frame,
)


class TemporalEnhancer(Enhancer):
    """Base class of temporal stages: ``process_window`` turns (B, T, 3, H, W) windows into frames t."""

    tileable = False  # the network aligns whole frames; tiles would cut its motion search short

    @property
    def window_size(self) -> int:
        """Frames per window: before + frame t + after."""
        return self.window_before + 1 + self.window_after

    def process_window(self, window: torch.Tensor) -> torch.Tensor:
        """Windows (B, T, 3, H, W) in [0, 1], frame t at index ``window_before`` -> frames t (B, 3, H, W)."""
        raise NotImplementedError

    #: True when frame t's output depends on the stage's own previous output (the pipeline then calls
    #: ``filter_frame`` with one ``new_state`` per video instead of ``process_window``)
    recursive = False

    def new_state(self):
        """A recursive stage's history for one video (None for a windowed stage: it keeps nothing)."""
        return None

    def filter_frame(self, frame: torch.Tensor, source, scene_start: bool, state) -> torch.Tensor:
        """Frame t (1, 3, H, W) filtered with its source frame (3, h, w integer planes) and the history in
        ``state``: a recursive stage gets frame t alone, not a window (what it needs of the past it keeps)."""
        raise NotImplementedError

    @torch.inference_mode()
    def process(self, batch: torch.Tensor) -> torch.Tensor:
        """Each frame as a one-frame video: its window is the frame repeated (what mirroring gives)."""
        return self.process_window(batch.unsqueeze(1).expand(-1, self.window_size, -1, -1, -1))


class TemporalFixEnhancer(TemporalEnhancer):
    """The learned TemporalFix post-filter (models/temporalfix.py) on 7-frame windows."""

    window_before = CENTER
    window_after = CENTER

    def __init__(self, info: EnhancerInfo, device, dtype, model):
        super().__init__(info, device, dtype, tile=0)
        self.model = model

    def process_window(self, window: torch.Tensor) -> torch.Tensor:
        """Frame t of each window, filtered (convolutions in the compute dtype, the rest fp32)."""
        return temporalfix_frame(self.model, window.to(self.device))


def build_temporalfix(spec: ModelSpec, device, dtype, tile, strength: float) -> Enhancer:
    """TemporalFix with the official weights for ``strength`` (fractions blend the two neighbours)."""
    model = load_temporalfix(None, strength, device, dtype)
    info = EnhancerInfo.from_spec(spec, architecture="TemporalFix", strength=strength, window=7)
    return TemporalFixEnhancer(info, device, dtype, model)
