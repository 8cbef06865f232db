"""Keep glibc's malloc from handing frame-sized buffers back to the kernel between frames.

A video job allocates and frees buffers of a few MiB per frame (network activations, output frames,
windows, a temporal stage's warp), from several threads and so from several malloc arenas. With glibc's
defaults, an allocation above its *dynamic* mmap threshold is an mmap of its own, and a free that leaves
a large top is trimmed: either way the pages go back to the kernel, and the next frame faults every one
of them in again (zeroed) inside the worker that touches it. Measured on this project's 2-core CPU
(`flask bench`, `realesr-animevideov3+stabilize`, 160x120 -> 640x480, 96 frames): 1.4 million minor
page faults a run instead of 0.18 million, the enhance workers' time per frame 68 -> 90 ms, and stabilize's
added cost +44% instead of +7-13% (docs/BENCHMARKS.md, "stabilize cost"). PyTorch's CPU tuning guide
recommends an allocator that keeps its memory (jemalloc, tcmalloc) for the same reason; those need an
``LD_PRELOAD`` before start-up, glibc's own knobs can be set from inside the process, hence this module.
``app/__init__.py`` calls it as the process starts (every entry point imports the app package first), so
the HTTP tier gets the same thresholds: harmless there, it frees nothing large.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

#: mallopt parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: allocations below this come from the arenas and are reused, not mmapped and unmapped each time:
#: glibc's largest accepted value on 64-bit (a 4K frame of fp32 RGB is 95 MiB and still gets its own mmap)
MMAP_THRESHOLD = 32 * 1024 * 1024
#: free memory an arena keeps at its top before returning it: a few frames' worth of buffers
TRIM_THRESHOLD = 256 * 1024 * 1024
SETTINGS = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD))
#: glibc's own environment variables for the same knobs: an operator who set one has chosen
OPERATOR_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD")


@functools.cache
def keep_frame_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds for this process, once; False where that does not apply
    (not glibc, or the operator set malloc's knobs or preloaded another allocator)."""
    if not sys.platform.startswith("linux") or any(os.environ.get(name) for name in OPERATOR_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # glibc returns 1 on success; musl's mallopt is a stub that returns 0
    applied = all(mallopt(knob, value) == 1 for knob, value in SETTINGS)
    log.debug("malloc thresholds %s", "raised" if applied else "left as they are")
    return applied
