"""``flask evaluate`` without Flask: degrade clean images, restore them, measure quality and time.

degrade   the damages (x2, x3, x4, noise25, x4+noise10, dark, jpeg20), deterministic
images    the image set: bundled scikit-image photos or a folder, as 8-bit RGB
plan      which model runs on which damage, and which are skipped and why
metrics   PSNR, SSIM and (when installed) LPIPS
runner    the loop: warm-up, timed run, metrics -> rows
report    results.json, skipped.json, results.md, summary.png

The video mode (``flask evaluate --video``) has its own modules beside these, imported where used:
videos         the clips: rendered by a known camera motion over the bundled photos, or a folder
video_degrade  x4, x4+noise10 (temporal noise), x4+h264 (compression), on whole clips
flicker        the warping error (Lai et al. 2018) along the original's optical flow
video_runner   the loop: each clip through app.pipeline.enhance_file, scored per frame and for flicker
video_report   the same four files, with warping error beside PSNR/SSIM
"""

from .degrade import DEFAULT_DEGRADATIONS, DEGRADATIONS, Degradation, parse_degradations
from .images import EvalImage, default_images, folder_images
from .plan import INPUT, Skip, Task, plan
from .report import write_report
from .runner import Evaluation, run

__all__ = [
    "DEFAULT_DEGRADATIONS",
    "DEGRADATIONS",
    "INPUT",
    "Degradation",
    "EvalImage",
    "Evaluation",
    "Skip",
    "Task",
    "default_images",
    "folder_images",
    "parse_degradations",
    "plan",
    "run",
    "write_report",
]
