"""PNG figures for the analysis stages (matplotlib, Agg backend: no display needed).

- `plot_scaling`: a task's score against N (log axis): accuracy in percent, or bits per byte of the reference
  solution (lower is better); measured points with bootstrap intervals, the selected fit with its bootstrap
  band, the other model dashed, the breakpoint and the target line.
- `plot_transfer`: the training-data x benchmark matrix of accuracy or bits per byte (or its deltas) as an
  annotated heatmap with in-domain cells outlined.
Both take the JSON-ready records the stages write, so a figure can be redrawn from fit.json / transfer.json.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from augmath.io import atomic_writer  # noqa: E402

MODEL_NAMES = {"loglinear": "log-linear", "segmented": "segmented log-linear"}
DEMO_NOTE = "135M demo model: no accuracy claim"
MIN_COLOR_SPAN = 10.0  # accuracy points: a 1-point difference must not fill the colour range


def _save(fig, path: Path) -> None:
    with atomic_writer(path, "wb") as f:
        fig.savefig(f, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)


def _neighbour(part: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The inside grid point adjacent to `part`, so the dotted and solid segments join."""
    out = np.zeros_like(part)
    idx = np.flatnonzero(part)
    if idx.size:
        for j in (idx.min() - 1, idx.max() + 1):
            if 0 <= j < len(part) and inside[j]:
                out[j] = True
    return out


def _plain_log_ticks(ax) -> None:
    """Label N as 1,000 rather than 10^3; over short ranges also label the 2x and 5x minor ticks."""
    lo, hi = ax.get_xlim()
    short = math.log10(hi / lo) < 1.5

    def minor(v, _):
        mantissa = round(v / 10 ** math.floor(math.log10(v)))
        return f"{v:,.0f}" if short and mantissa in (2, 5) else ""

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))


def _titled(title: str, demo: bool) -> str:
    return f"{title}\n({DEMO_NOTE})" if demo else title


# How each metric is drawn: the factor from the stored value to the axis, the axis label, the target's format.
AXES = {
    "accuracy": (100.0, "accuracy (%)", lambda v: f"{v:.0%}"),
    "bpb": (1.0, "bits per byte of the reference solution (lower is better)", lambda v: f"{v:.3f} bits/byte"),
}


def plot_scaling(fits: list[dict], path, *, title: str, target: float | None = None, demo: bool = False) -> Path:
    path = Path(path)
    metrics = {f.get("metric", "accuracy") for f in fits}
    if len(metrics) > 1:
        raise ValueError(f"one scaling plot shows one metric (got {sorted(metrics)})")
    scale, ylabel, fmt = AXES[metrics.pop() if metrics else "accuracy"]
    paired = bool(fits) and all("change_ci" in p for f in fits for p in f["points"])
    if paired:  # right: each point's change from the series' smallest N, its interval from the same replicates
        fig, (ax, cax) = plt.subplots(1, 2, figsize=(12.5, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
    else:
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, f in enumerate(fits):
        color = colors[i % len(colors)]
        pts, curve = f["points"], f["curve"]
        n = np.array([p["n_train"] for p in pts])
        acc = np.array([p["value"] for p in pts]) * scale
        lo = np.array([p["ci"][0] for p in pts], dtype=float) * scale
        hi = np.array([p["ci"][1] for p in pts], dtype=float) * scale
        ax.errorbar(n, acc, yerr=[acc - lo, hi - acc], fmt="o", color=color, capsize=3, ms=5, zorder=3)
        grid = np.array(curve["n"])
        label = f"{f['series']}: {MODEL_NAMES[curve['model']]}"
        inside = (grid >= n.min()) & (grid <= n.max())
        fit = np.array(curve["fit"]) * scale
        ax.plot(grid[inside], fit[inside], color=color, lw=2, label=label)
        for part in (grid < n.min(), grid > n.max()):  # extrapolation: same line, dotted
            ax.plot(grid[part | _neighbour(part, inside)], fit[part | _neighbour(part, inside)], color=color, lw=2,
                    ls=(0, (1, 1.5)))
        ax.fill_between(grid, np.array(curve["lo"]) * scale, np.array(curve["hi"]) * scale, color=color, alpha=0.15,
                        lw=0)
        if "other_fit" in curve:
            ax.plot(grid, np.array(curve["other_fit"]) * scale, color=color, lw=1, ls="--", alpha=0.7,
                    label=f"{f['series']}: {MODEL_NAMES[curve['other_model']]} (not selected)")
        if f["selected"] == "segmented":
            ax.axvline(f["models"]["segmented"]["params"]["breakpoint_n"], color=color, ls=":", lw=1)
        if paired:
            d = np.array([p["change"] for p in pts]) * scale
            dlo = np.array([p["change_ci"][0] for p in pts], dtype=float) * scale
            dhi = np.array([p["change_ci"][1] for p in pts], dtype=float) * scale
            cax.errorbar(n, d, yerr=[d - dlo, dhi - d], fmt="o-", color=color, capsize=3, ms=5, label=f["series"])
        t = f.get("target")
        if t and t.get("n") and grid[0] <= t["n"] <= grid[-1]:
            ax.plot([t["n"]], [t["value"] * scale], marker="*", ms=13, color=color, zorder=4,
                    label=f"{f['series']}: N={t['n']:,.0f} reaches {fmt(t['value'])}"
                          + (" (extrapolated)" if t["extrapolated"] else ""))
    if target is not None:
        ax.axhline(target * scale, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("augmented training examples N (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(_titled(title, demo))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    conf = fits[0]["bootstrap"]["confidence"] if fits else 0.95
    if paired:
        cax.axhline(0, color="grey", lw=1)
        cax.set_xscale("log")
        _plain_log_ticks(cax)
        cax.set_xlabel("augmented training examples N (log scale)")
        cax.set_ylabel(f"change from the smallest N ({'points' if scale == 100 else 'bits per byte'})")
        cax.set_title("change from the smallest N, paired over the same items", fontsize=10)
        cax.grid(True, which="both", alpha=0.25)
    fig.text(0.01, -0.02, f"points: {conf:.0%} bootstrap interval over eval items; band: bootstrap band of the "
             "selected fit; dotted: extrapolation beyond the measured N"
             + ("; right: the same replicates, differences (a shared test set makes them far tighter than the "
                "points)" if paired else ""), fontsize=7, color="dimgrey")
    _save(fig, path)
    return path


# Heatmap settings per metric: factor to the cell text, the smallest colour span (a small difference must not
# fill the colour range), colour maps (value, delta; better is always blue/bright), number formats, labels.
HEATMAP = {
    "accuracy": {"scale": 100.0, "span": MIN_COLOR_SPAN, "cmap": "viridis", "delta_cmap": "RdBu",
                 "fmt": "{:.1f}", "delta_fmt": "{:+.1f}", "label": "accuracy (%)",
                 "delta_label": "Δ accuracy vs original (points)"},
    "bpb": {"scale": 1.0, "span": 0.1, "cmap": "viridis_r", "delta_cmap": "RdBu_r",
            "fmt": "{:.3f}", "delta_fmt": "{:+.3f}", "label": "bits per byte (lower is better)",
            "delta_label": "Δ bits per byte vs original (negative: better)"},
}


def plot_transfer(values: list[list[float | None]], rows: list[str], cols: list[str],
                  in_domain: list[list[bool]], path, *, title: str, delta: bool = False, demo: bool = False,
                  metric: str = "accuracy") -> Path:
    """values[i][j] is the cell's score (accuracy 0-1, or bits per byte) or, with delta=True, its difference from
    the original data's; None = not evaluated."""
    path = Path(path)
    h = HEATMAP[metric]
    data = np.array([[np.nan if v is None else v * h["scale"] for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 3.2, 0.55 * len(rows) + 1.8))
    if delta:
        span = np.nanmax(np.abs(data)) if np.isfinite(data).any() else 1.0
        span = max(span, h["span"] / 2)
        image = ax.imshow(data, cmap=h["delta_cmap"], vmin=-span, vmax=span, aspect="auto")
    elif metric == "accuracy":
        top = np.nanmax(data) if np.isfinite(data).any() else 100.0
        image = ax.imshow(data, cmap=h["cmap"], vmin=0, vmax=max(top, h["span"]), aspect="auto")
    else:
        lo = np.nanmin(data) if np.isfinite(data).any() else 0.0
        hi = np.nanmax(data) if np.isfinite(data).any() else 1.0
        mid, half = (lo + hi) / 2, max(hi - lo, h["span"]) / 2
        image = ax.imshow(data, cmap=h["cmap"], vmin=mid - half, vmax=mid + half, aspect="auto")
    cmap, norm = image.get_cmap(), image.norm
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = data[i, j]
            if math.isnan(v):
                ax.text(j, i, "—", ha="center", va="center", color="grey", fontsize=9)
                continue
            r, g, b, _ = cmap(norm(v))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            text = (h["delta_fmt"] if delta else h["fmt"]).format(v)
            ax.text(j, i, text, ha="center", va="center", color=ink, fontsize=9,
                    fontweight="bold" if in_domain[i][j] else "normal")
            if in_domain[i][j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=2.2))
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
    ax.set_title(_titled(title, demo), pad=28)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label(h["delta_label"] if delta else h["label"])
    ax.set_xlabel("outlined, bold: in-domain (the benchmark whose training split the data came from)", fontsize=8)
    _save(fig, path)
    return path
