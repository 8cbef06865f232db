"""Write an evaluation out: results.json (rows), skipped.json, results.md (means) and summary.png."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from .degrade import DEGRADATIONS
from .plan import INPUT
from .runner import Evaluation

RESULTS_JSON = "results.json"
SKIPPED_JSON = "skipped.json"
RESULTS_MD = "results.md"
SUMMARY_PNG = "summary.png"


def _finite(value):
    """JSON has no inf/NaN: a non-finite number is written as null."""
    return value if not isinstance(value, float) or math.isfinite(value) else None


def grouped(rows: list[dict], canonical: list[str], first: str) -> list[tuple[str, str, list[dict]]]:
    """The rows per (degradation, model): degradations in their canonical order (x2 before x4 ...),
    models as requested with ``first`` (the unrestored input, the original) leading each degradation."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["degradation"], row["model"]), []).append(row)
    models = list(dict.fromkeys(r["model"] for r in rows))
    keys = sorted(groups, key=lambda k: (canonical.index(k[0]), k[1] != first, models.index(k[1])))
    return [(deg, model, groups[deg, model]) for deg, model in keys]


def table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the first two columns left-aligned (names), the rest right-aligned (numbers)."""
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|",
    ]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def document(title: str, evaluation: Evaluation, settings: dict, inputs: str, explained: str, means: str):
    """results.md: how the run was made (``inputs``: what was scored), what the figures mean, the table of
    means, and what was skipped."""
    described = "; ".join(f"{k}: {v}" for k, v in settings.items())
    return "\n".join(
        [
            f"# {title}",
            "",
            f"Device {evaluation.device}, precision {evaluation.precision}; {described}.",
            inputs,
            explained,
            "",
            means,
            "",
            "## Skipped",
            "",
            skipped_list(evaluation),
            "",
        ]
    )


def summarise(rows: list[dict]) -> list[dict]:
    """Means per (degradation, model), one dict each."""
    summary = []
    for deg, model, group in grouped(rows, list(DEGRADATIONS), INPUT):
        entry = {
            "degradation": deg,
            "model": model,
            "images": len(group),
            "psnr": statistics.fmean([r["psnr"] for r in group]),
            "ssim": statistics.fmean([r["ssim"] for r in group]),
            "ms_per_frame": statistics.fmean([r["ms_per_frame"] for r in group]),
        }
        if all("lpips" in r for r in group):
            entry["lpips"] = statistics.fmean([r["lpips"] for r in group])
        summary.append(entry)
    return summary


def markdown_table(summary: list[dict]) -> str:
    """The means as a Markdown table, one line per (degradation, model)."""
    lpips = any("lpips" in s for s in summary)
    head = [
        "degradation",
        "model",
        "PSNR (dB)",
        "SSIM",
        *(["LPIPS"] if lpips else []),
        "ms / image",
        "images",
    ]
    rows = []
    for s in summary:
        cells = [
            s["degradation"],
            s["model"] if s["model"] != INPUT else "input (unrestored)",
            f"{s['psnr']:.2f}",
            f"{s['ssim']:.4f}",
        ]
        if lpips:
            cells.append(f"{s['lpips']:.4f}" if "lpips" in s else "")
        cells += ["–" if s["model"] == INPUT else f"{s['ms_per_frame']:.1f}", str(s["images"])]
        rows.append(cells)
    return table(head, rows)


def skipped_list(evaluation: Evaluation) -> str:
    """The skipped models, images and metrics as a Markdown bullet list."""
    lines = []
    for s in evaluation.skipped:
        where = f" on {s.degradation}" if s.degradation else ""
        lines.append(f"- {s.what} `{s.name}`{where}: {s.reason}")
    return "\n".join(lines) or "- nothing"


def markdown(evaluation: Evaluation, settings: dict) -> str:
    """results.md: how the run was made, the table of means, and what was skipped."""
    images = sorted(dict.fromkeys(r["image"] for r in evaluation.rows))
    return document(
        "Evaluation results",
        evaluation,
        settings,
        f"Images ({len(images)}): {', '.join(images) or 'none'}.",
        "Means over the images; PSNR/SSIM against the clean original (higher is better), "
        "time is model time per image after a warm-up run.",
        markdown_table(summarise(evaluation.rows)),
    )


def chart(summary: list[dict], path: Path, title: str) -> None:
    """PSNR against ms per image (log) for every (model, degradation): colour = model, marker = damage."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, same pixels everywhere
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    points = [
        s for s in summary if s["model"] != INPUT and s["ms_per_frame"] > 0 and math.isfinite(s["psnr"])
    ]
    models = list(dict.fromkeys(s["model"] for s in points))
    degs = list(dict.fromkeys(s["degradation"] for s in points))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    markers = {d: "osD^vP*Xh<>"[i % 11] for i, d in enumerate(degs)}
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for s in points:
        ax.scatter(
            s["ms_per_frame"],
            s["psnr"],
            color=colours[s["model"]],
            marker=markers[s["degradation"]],
            s=60,
            edgecolors="black",
            linewidths=0.5,
        )
    # the unrestored input takes no time, so it is a line a scale-1 restorer has to rise above
    for ref in (s for s in summary if s["model"] == INPUT and math.isfinite(s["psnr"])):
        ax.axhline(ref["psnr"], color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"{ref['degradation']}, unrestored",
            (0.01, ref["psnr"]),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="grey",
            va="bottom",
        )
    ax.set_xscale("log")
    # plain numbers at 1-2-5 steps: matplotlib's labelled minor ticks collide on a narrow range
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("model time per image (ms, log scale)")
    ax.set_ylabel("PSNR (dB), mean over images")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    save_with_legends(fig, ax, colours, markers, path)


def save_with_legends(fig, ax, colours: dict, markers: dict, path: Path) -> None:
    """Two legends beside the chart (colour = model, marker = degradation), then write and close it."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    model_keys = [Line2D([], [], color=c, marker="o", linestyle="", label=m) for m, c in colours.items()]
    deg_keys = [Line2D([], [], color="grey", marker=k, linestyle="", label=d) for d, k in markers.items()]
    first = ax.legend(
        handles=model_keys, title="model", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8
    )
    ax.add_artist(first)
    second = ax.legend(
        handles=deg_keys, title="degradation", loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8
    )
    # a legend added with add_artist is not in the tight bounding box unless named here
    fig.savefig(path, bbox_inches="tight", bbox_extra_artists=[first, second])
    plt.close(fig)


def write_files(evaluation: Evaluation, out: Path, markdown_text: str, draw) -> list[Path]:
    """The four output files in ``out`` (created if needed): rows and skips as JSON, the Markdown report,
    and the chart ``draw(path)`` makes; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [{k: _finite(v) for k, v in r.items()} for r in evaluation.rows]
    paths = [out / RESULTS_JSON, out / SKIPPED_JSON, out / RESULTS_MD, out / SUMMARY_PNG]
    paths[0].write_text(json.dumps(rows, indent=1, allow_nan=False) + "\n")
    paths[1].write_text(json.dumps([s.to_dict() for s in evaluation.skipped], indent=1) + "\n")
    paths[2].write_text(markdown_text)
    draw(paths[3])
    return paths


def write_report(evaluation: Evaluation, out: Path, settings: dict) -> list[Path]:
    """Write the four files into ``out`` (created if needed); returns their paths."""
    title = f"Quality vs time ({evaluation.device}, {evaluation.precision})"
    return write_files(
        evaluation,
        out,
        markdown(evaluation, settings),
        lambda path: chart(summarise(evaluation.rows), path, title),
    )
