"""Write a video evaluation out: results.json, skipped.json, results.md (means) and summary.png.

Same files as the image report; the rows carry a warping error beside PSNR/SSIM, and the chart puts
sharpness (PSNR) against steadiness (warping error), so neither is judged alone.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from .report import document, grouped, save_with_legends, table, write_files
from .runner import Evaluation
from .video_degrade import VIDEO_DEGRADATIONS
from .video_runner import ORIGINAL

#: warping errors are shown in thousandths (a clean clip's own is around 0.01-0.1 x 10^-3)
WARP_UNIT = 1e3


def summarise_videos(rows: list[dict]) -> list[dict]:
    """Means per (degradation, model) over the clips, the original first in each degradation."""
    groups = grouped(rows, list(VIDEO_DEGRADATIONS), ORIGINAL)
    # the original's own warping error per degradation: what every model's is divided by
    bases = {deg: statistics.fmean(r["warp_error"] for r in g) for deg, m, g in groups if m == ORIGINAL}
    summary = []
    for deg, model, group in groups:
        base = bases.get(deg, math.nan)
        warp = statistics.fmean(r["warp_error"] for r in group)
        summary.append(
            {
                "degradation": deg,
                "model": model,
                "clips": len(group),
                "psnr": statistics.fmean(r["psnr"] for r in group),
                "ssim": statistics.fmean(r["ssim"] for r in group),
                "warp_error": warp,
                # > 1: flickers more than the original itself; the flicker a model adds or removes
                "warp_ratio": warp / base if base > 0 else math.nan,
                "ms_per_frame": statistics.fmean(r["ms_per_frame"] for r in group),
            }
        )
    return summary


def video_table(summary: list[dict]) -> str:
    """The means as a Markdown table, one line per (degradation, model)."""
    head = ["degradation", "model", "PSNR (dB)", "SSIM", "warp err (x10⁻³)", "x original", "ms / frame"]
    rows = []
    for s in summary:
        original = s["model"] == ORIGINAL
        rows.append(
            [
                s["degradation"],
                "original (ground truth)" if original else s["model"],
                "–" if original else f"{s['psnr']:.2f}",
                "–" if original else f"{s['ssim']:.4f}",
                f"{s['warp_error'] * WARP_UNIT:.3f}",
                f"{s['warp_ratio']:.2f}" if math.isfinite(s["warp_ratio"]) else "–",
                "–" if original else f"{s['ms_per_frame']:.0f}",
            ]
        )
    return table(head, rows)


def video_markdown(evaluation: Evaluation, settings: dict) -> str:
    """results.md: how the run was made, the table of means, and what was skipped."""
    clips = list(dict.fromkeys(r["clip"] for r in evaluation.rows))
    return document(
        "Video evaluation results",
        evaluation,
        settings,
        f"Clips ({len(clips)}): {', '.join(clips) or 'none'}.",
        "Means over the clips. PSNR/SSIM: per frame against the clean original, averaged (higher is "
        "sharper). Warping error: frame t+1 warped onto frame t along the original's optical flow, "
        "mean squared difference on pixels visible in both (lower is steadier); `x original` divides it "
        "by the original's own. Time: end-to-end pipeline time per output frame (decode, model, encode).",
        video_table(summarise_videos(evaluation.rows)),
    )


def video_chart(summary: list[dict], path: Path, title: str) -> None:
    """PSNR against warping error for every (model, degradation): up is sharper, left is steadier."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, same pixels everywhere
    import matplotlib.pyplot as plt

    points = [s for s in summary if s["model"] != ORIGINAL and math.isfinite(s["psnr"])]
    models = list(dict.fromkeys(s["model"] for s in points))
    degs = list(dict.fromkeys(s["degradation"] for s in summary))
    palette = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    colours = {m: palette(i % palette.N) for i, m in enumerate(models)}
    markers = {d: "osD^vP*Xh<>"[i % 11] for i, d in enumerate(degs)}
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for s in points:
        ax.scatter(
            s["warp_error"] * WARP_UNIT,
            s["psnr"],
            color=colours[s["model"]],
            marker=markers[s["degradation"]],
            s=60,
            edgecolors="black",
            linewidths=0.5,
        )
    # the original's own warping error: as steady as a clip can honestly be
    for ref in (s for s in summary if s["model"] == ORIGINAL):
        ax.axvline(ref["warp_error"] * WARP_UNIT, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("warping error (x10⁻³, lower is steadier; dotted: the original's)")
    ax.set_ylabel("PSNR (dB), per frame, mean over clips")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    save_with_legends(fig, ax, colours, markers, path)


def write_video_report(evaluation: Evaluation, out: Path, settings: dict) -> list[Path]:
    """Write the four files into ``out`` (created if needed); returns their paths."""
    title = f"Sharpness vs flicker ({evaluation.device}, {evaluation.precision})"
    summary = summarise_videos(evaluation.rows)
    return write_files(
        evaluation, out, video_markdown(evaluation, settings), lambda path: video_chart(summary, path, title)
    )
