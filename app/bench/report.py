"""The benchmark's results as text tables (what ``flask bench`` prints and docs/BENCHMARKS.md shows)."""

from __future__ import annotations


def _num(value, digits: int = 1) -> str:
    """A number, or '-' when absent."""
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _stage_ms(run: dict | None) -> str:
    """Busy milliseconds per frame of decode / enhance (all workers) / encode."""
    if not run or not run.get("stages") or not run.get("frames"):
        return "-"
    st, n = run["stages"], run["frames"]
    return "/".join(f"{1000 * st.get(k, 0) / n:.1f}" for k in ("decode", "enhance", "encode"))


def speed_table(result: dict) -> str:
    """One row per model, precision and size: model-only, FLOP/s, end-to-end, naive, ratio, memory."""
    header = [
        "model",
        "prec",
        "input -> output",
        "workers x batch",
        "model-only fps",
        "GFLOP/frame",
        "GFLOP/s",
        "% of matmul peak",
        "e2e fps (steady)",
        "e2e stage ms/frame dec/enh/enc",
        "naive fps",
        "e2e / naive",
        "audio kept",
        "e2e peak RSS MiB",
    ]
    rows = []
    for r in result["rows"]:
        e2e, naive = r.get("e2e") or {}, r.get("naive") or {}
        fraction = r.get("peak_fraction")
        rows.append(
            [
                r["model"],
                r["precision"],
                f"{r['input']} -> {r['output']}",
                f"{r['workers']} x {r['batch']}",
                _num(r["model_fps"], 2),
                _num(r["flops_per_frame"] / 1e9, 2),
                _num(r["achieved_flops"] / 1e9, 0),
                "-" if fraction is None else f"{100 * fraction:.0f}%",
                e2e.get("error") or _num(e2e.get("steady_fps"), 2),
                _stage_ms(e2e),
                naive.get("error") or _num(naive.get("steady_fps"), 2),
                "-" if r.get("speedup") is None else f"{r['speedup']:.2f}x",
                "-" if "audio_kept" not in e2e else ("yes" if e2e["audio_kept"] else "NO"),
                _num(e2e.get("peak_rss_mb"), 0),
            ]
        )
    return _table(header, rows)


def peak_table(result: dict) -> str:
    """The matmul peaks, per precision: best size and thread layout."""
    rows = []
    for name, peak in result["peak"].items():
        best = {}
        for r in peak["all"]:  # the best of each kernel, to show how far apart the two engines are
            if r["flops"] > best.get(r["kernel"], {}).get("flops", 0):
                best[r["kernel"]] = r
        others = ", ".join(f"{k} {v['flops'] / 1e9:.0f}" for k, v in best.items() if k != peak["kernel"])
        rows.append(
            [
                name,
                _num(peak["flops"] / 1e9, 0),
                peak["kernel"],
                str(peak["size"]),
                peak["layout"],
                others or "-",
            ]
        )
    header = ["dtype", "matmul peak GFLOP/s", "kernel", "K", "workers x threads", "other kernel GFLOP/s"]
    return _table(header, rows)


def memory_table(result: dict) -> str:
    """Peak RSS for N and factor x N frames."""
    rows = [
        [
            m["model"],
            m["input"],
            " / ".join(str(f) for f in m["frames"]),
            " / ".join(_num(v, 0) for v in m["peak_rss_mb"]),
            "-" if m["ratio"] is None else f"{m['ratio']:.3f}",
        ]
        for m in result["memory"]
    ]
    return _table(["model", "input", "frames", "peak RSS MiB", "ratio"], rows)


def render(result: dict) -> str:
    """Every table, with the machine line and the skipped runs."""
    m = result["machine"]
    parts = [
        f"{m['cpu']}, {m['usable_cpus']} CPUs, {m['memory_gib']:.0f} GiB, flags: {' '.join(m['flags'])}; "
        f"torch {m['torch']} ({m['torch_threads']} threads), PyAV {m['pyav']}; "
        f"load average {result['load_before'][0]:.2f} before, {result['load_after'][0]:.2f} after",
        "",
        peak_table(result),
        "",
        speed_table(result),
    ]
    if result.get("memory"):
        parts += ["", memory_table(result)]
    for s in result.get("skipped", []):
        parts.append(f"skipped: {s.get('model')} {s.get('input', '')} {s.get('run', '')}: {s['reason']}")
    return "\n".join(parts)
