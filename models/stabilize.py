"""``stabilize``: a weight-free, motion-compensated recursive filter against per-frame flicker.

For output frame t: dense optical flow (OpenCV's DIS, no weights) both ways between the *source* frames
t-1 and t, at the source's resolution; a reliability mask there, from forward-backward consistency and
from source agreement (source t-1 warped onto t must match source t), so occlusions, new content and
badly tracked motion keep the current frame; then, at the output's resolution, only the warp of the
previous *stabilized* output onto frame t and the blend ``out = cur + w * (warped - cur)`` with
``w = strength * reliability <= strength``. Detail of the current frame is therefore never replaced
wholesale, and the cost grows with the source's pixels (two flows, a few masks), not the output's
(one resize of flow and mask, one warp, one blend). The history starts afresh at each scene's first frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .base import Enhancer, EnhancerInfo
from .declarations.stabilize import DEFAULT_STRENGTH, NAME  # noqa: F401
from .flow import pixel_grid, round_trip, warp
from .specs import ModelSpec
from .temporal import TemporalEnhancer

#: source agreement: absolute difference, averaged over the three channels and a 3x3 box (0-255), below
#: which the warped previous source counts as the same content, and above which it counts as new
AGREE_FULL, AGREE_NONE = 6.0, 18.0
#: how the previous output is resampled. Bilinear, not bicubic: at the default strength the history's
#: share halves every frame, so the softening of repeated resampling fades as fast as it builds up (measured
#: on the anime clip of docs/BENCHMARKS.md: same warping error and PSNR against the per-frame output as
#: bicubic), and it costs half as much (the warp is most of the stage's time)
WARP = cv2.INTER_LINEAR


@dataclass
class StabilizeState:
    """One video's history: the previous source frame (grey uint8 for the flow, and colour) and the
    previous stabilized output."""

    flow: cv2.DISOpticalFlow
    source: np.ndarray | None = None
    colour: np.ndarray | None = None
    output: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the history (a new scene starts)."""
        self.source = self.colour = self.output = None


def new_state() -> StabilizeState:
    """A fresh history with its own DIS flow (one per video: the OpenCV object is not shared by threads)."""
    return StabilizeState(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST))


def to_grey(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planar RGB integers (3, h, w), 8 or 16 bit -> (grey uint8 (h, w) for the flow, RGB float32 (h, w, 3)
    on the 0-255 scale for source agreement)."""
    rgb = planes.transpose(1, 2, 0).astype(np.float32)
    if planes.dtype == np.uint16:
        rgb /= 257.0
    grey = rgb @ np.float32([0.299, 0.587, 0.114])
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8), rgb


def reliability(flow: cv2.DISOpticalFlow, previous, current):
    """(backward flow (h, w, 2): where each pixel of the ``current`` source frame was in the ``previous``
    one, reliability (h, w) in 0..1) at the source's resolution; each frame is ``to_grey``'s pair."""
    (previous, previous_rgb), (current, current_rgb) = previous, current
    backward = flow.calc(current, previous, None)  # current p <-> previous p + backward(p)
    forward = flow.calc(previous, current, None)
    # forward-backward: going back along the backward flow, then forward again, must land where it started;
    # soft: fully trusted up to the bound, not at all at twice it. Content from outside the frame has no past
    ratio, inside = round_trip(backward, forward)
    consistent = np.clip(2.0 - ratio, 0.0, 1.0)
    # source agreement: the previous source, moved along the flow, shows what the current one shows. In
    # colour: a red object moving over a background of the same grey is new content all the same
    warped = warp(previous_rgb, backward)
    difference = cv2.blur(cv2.absdiff(warped, current_rgb) @ np.float32([1 / 3, 1 / 3, 1 / 3]), (3, 3))
    agree = np.clip((AGREE_NONE - difference) / (AGREE_NONE - AGREE_FULL), 0.0, 1.0)
    mask = consistent * agree * inside
    # erode: an unreliable pixel also distrusts its neighbours, which the upscale to the output blends in
    return backward, cv2.erode(mask.astype(np.float32), np.ones((3, 3), np.uint8))


def stabilize_frame(current: torch.Tensor, source: np.ndarray, scene_start: bool, state, strength: float):
    """Frame t (1, 3, H, W) in [0, 1], stabilized against the history in ``state`` (then updated)."""
    grey, colour = to_grey(source)
    if scene_start or state.source is None or state.source.shape != grey.shape:
        state.reset()
    if strength <= 0:
        return current
    if state.output is None:
        out = current
    else:
        backward, mask = reliability(state.flow, (state.source, state.colour), (grey, colour))
        out = _blend(current, state, backward, mask, strength)
    state.source, state.colour, state.output = grey, colour, out
    return out


def _blend(current: torch.Tensor, state, backward: np.ndarray, mask: np.ndarray, strength: float):
    """The previous output warped onto ``current`` and blended in by ``strength * mask`` (output size)."""
    if current.device.type != "cpu":
        return _blend_on_device(current, state, backward, mask, strength)
    _, _, big_h, big_w = current.shape
    h, w = mask.shape
    # flow and mask travel at the source's size; scaled up here (flow in output pixels): cheap passes
    # (the resize is linear: scaling the flow to output pixels before it is the same, on 16x fewer pixels)
    flow = cv2.resize(
        backward * np.float32([big_w / w, big_h / h]), (big_w, big_h), interpolation=cv2.INTER_LINEAR
    )
    flow += pixel_grid(big_h, big_w)
    weight = cv2.resize(mask, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    weight *= strength
    # numpy and OpenCV only: no torch operator here, so no OpenMP team to wake (and spin) for each one.
    # Interleaved (H, W, 3) float32: the networks answer channels-last, so frame t is already laid out so,
    # and one remap and one blendLinear over three interleaved channels cost less than three of each
    now = _interleaved(current)
    warped = cv2.remap(_interleaved(state.output), flow, None, WARP, borderMode=cv2.BORDER_REPLICATE)
    # (1 - w) * cur + w * warped in one pass (blendLinear divides by the weights' sum, here 1 + 1e-5)
    blended = cv2.blendLinear(now, warped, 1.0 - weight, weight)
    # float32 whatever the model computed in: the history is not rounded to bf16 frame after frame
    return torch.from_numpy(blended).permute(2, 0, 1).unsqueeze(0)


def _interleaved(frame: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) on the CPU -> (H, W, 3) float32, a view when the frame is channels-last float32."""
    interleaved = frame[0].float().permute(1, 2, 0)
    if interleaved.is_contiguous():
        return interleaved.numpy()
    # planar (a model that answers NCHW): cv2.merge interleaves 3x faster than numpy's transposing copy
    return cv2.merge([np.ascontiguousarray(plane) for plane in frame[0].float().numpy()])


def _blend_on_device(current: torch.Tensor, state, backward: np.ndarray, mask: np.ndarray, strength: float):
    """_blend on a GPU: the same warp and blend with torch's grid_sample, the frames never leave it."""
    _, _, big_h, big_w = current.shape
    h, w = mask.shape
    device = current.device
    small = torch.from_numpy(np.dstack([backward, mask])).permute(2, 0, 1).unsqueeze(0).to(device)
    big = F.interpolate(small, size=(big_h, big_w), mode="bilinear", align_corners=False)
    flow = big[:, :2].permute(0, 2, 3, 1) * torch.tensor([big_w / w, big_h / h], device=device)
    where = torch.from_numpy(pixel_grid(big_h, big_w).copy()).to(device) + flow
    # pixels -> grid_sample's [-1, 1] (align_corners=True: -1 and 1 are the edge pixels' centres)
    scale = torch.tensor([2.0 / max(big_w - 1, 1), 2.0 / max(big_h - 1, 1)], device=device)
    warped = F.grid_sample(
        state.output.float(), where * scale - 1, mode="bilinear", padding_mode="border", align_corners=True
    )
    weight = big[:, 2:3] * strength
    return torch.lerp(current.float(), warped, weight).to(current.dtype)


class StabilizeEnhancer(TemporalEnhancer):
    """Recursive stage: keeps the previous stabilized output per video and blends it into frame t."""

    # frame t-1 is all it looks at: its source and its own output, kept in the state (so the pipeline
    # hands it frame t alone, not a window)
    window_before = 1
    window_after = 0
    recursive = True

    def __init__(self, info: EnhancerInfo, device, dtype, strength: float):
        super().__init__(info, device, dtype, tile=0)
        self.strength = strength

    def new_state(self) -> StabilizeState:
        """A fresh history for one video."""
        return new_state()

    def process_window(self, window: torch.Tensor) -> torch.Tensor:
        """Without sources (an image, a model-only benchmark) nothing is known of motion: frame t as is."""
        return window[:, self.window_before]

    @torch.inference_mode()
    def filter_frame(self, frame: torch.Tensor, source, scene_start: bool, state) -> torch.Tensor:
        """Frame t (1, 3, H, W), stabilized with the history of this video."""
        return stabilize_frame(frame.to(self.device), source, scene_start, state, self.strength)


def build(spec: ModelSpec, device, dtype, tile, strength: float) -> Enhancer:
    """The stabilizer at ``strength`` (nothing to load)."""
    info = EnhancerInfo.from_spec(spec, architecture="DIS flow + recursive blend", strength=strength)
    return StabilizeEnhancer(info, device, dtype, strength)
