"""A chain ``a+b+c`` is itself an enhancer: each link runs on the previous link's output."""

from __future__ import annotations

import math

import torch

from .base import Enhancer, EnhancerInfo


class ChainEnhancer(Enhancer):
    """Runs its links in order; scales multiply; each link keeps its own tiling and precision."""

    def __init__(self, name: str, links: list[Enhancer]):
        infos = [link.info for link in links]
        # a chain's task is its per-frame links' (bicubic+temporalfix upscales); a temporal stage only filters
        tasks = [i.task for i in infos if i.task != "temporal"] or [infos[-1].task]
        info = EnhancerInfo(
            name=name,
            task=tasks[-1] if tasks[-1] != "denoise" else tasks[0],
            scale=math.prod(i.scale for i in infos),
            licence=" + ".join(dict.fromkeys(i.licence for i in infos)),
            noncommercial=any(i.noncommercial for i in infos),
        )
        super().__init__(info, links[-1].device, links[-1].dtype, tile=0)
        self.links = links
        # a temporal last link makes the chain temporal (registry.resolve_chain allows no other place)
        self.window_before = links[-1].window_before
        self.window_after = links[-1].window_after

    def with_tile(self, tile: int) -> ChainEnhancer:
        """The chain with every link cutting frames into ``tile``-pixel tiles (links share their networks)."""
        clone = super().with_tile(0)
        clone.links = [link.with_tile(tile) for link in self.links]
        return clone

    @torch.inference_mode()
    def process(self, batch: torch.Tensor) -> torch.Tensor:
        """Run every link; the intermediate result never leaves the device."""
        for link in self.links:
            batch = link.process(batch)
        return batch


def split_temporal(enhancer: Enhancer) -> tuple[Enhancer | None, Enhancer | None]:
    """(the per-frame part, the temporal stage) of an enhancer: (enhancer, None) when it works per frame,
    (None, stage) for a temporal stage alone, (the links before it, stage) for a chain ending in one."""
    if not (enhancer.window_before or enhancer.window_after):
        return enhancer, None
    if not isinstance(enhancer, ChainEnhancer):
        return None, enhancer
    *before, stage = enhancer.links
    if len(before) == 1:
        return before[0], stage
    return ChainEnhancer("+".join(link.name for link in before), before), stage
