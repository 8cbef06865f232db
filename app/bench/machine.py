"""What the benchmark ran on: CPU model, cores, the instruction sets that decide the speed, caches, GPU."""

from __future__ import annotations

import os
import platform

import torch

from app.pipeline.compute import last_level_cache_bytes
from models.device import cpu_has_native_bf16

#: the CPU flags that change which kernels oneDNN/MKL and x264 can use
FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def _cpuinfo() -> dict[str, str]:
    """The first processor block of /proc/cpuinfo as a dict (empty off Linux)."""
    # read by hand: psutil and py-cpuinfo are not dependencies, and a few /proc lines are all this needs
    facts: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                facts[key.strip()] = value.strip()
    except OSError:
        pass
    return facts


def _memory_gib() -> float | None:
    """Total RAM in GiB, from /proc/meminfo."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    return None


def machine_facts() -> dict:
    """A JSON-ready description of this machine and the software versions that matter for speed."""
    import av

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    facts = {
        "cpu": info.get("model name") or platform.processor() or "unknown",
        "cpu_family": info.get("cpu family"),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "flags": [f for f in FLAGS if f in flags],
        "native_bf16": cpu_has_native_bf16(),
        "last_level_cache_mib": last_level_cache_bytes() / (1 << 20),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyav": av.__version__,
        "libavcodec": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return facts
