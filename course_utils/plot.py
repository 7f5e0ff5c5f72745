"""Plotting helpers with one consistent, colour-blind-safe style (Okabe–Ito colours)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["COLORS", "TRACK_COLORS", "use_style", "curves", "image_grid", "heatmap"]

#: Okabe & Ito (2008) palette, distinguishable with common colour-vision deficiencies.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: One Okabe–Ito colour per course track, shared by lesson 00's map and every lesson card
#: (``lessons.show_card``). A track missing here is drawn grey (``TRACK_COLORS.get(track, "#999999")``).
TRACK_COLORS = {
    "tour": "#000000",
    "foundations": "#0072B2",
    "vision": "#E69F00",
    "language": "#009E73",
    "generative": "#CC79A7",
    "reinforcement": "#D55E00",
    "beyond": "#56B4E9",
}


def use_style() -> None:
    """Apply the course style to matplotlib (colours, grid, readable font sizes)."""
    matplotlib.rcParams.update(
        {
            "axes.prop_cycle": matplotlib.cycler(color=COLORS),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "font.size": 11,
            "axes.titlesize": 12,
            "legend.frameon": False,
            "image.cmap": "viridis",
        }
    )


def _new_ax(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def curves(
    series: Mapping[str, Sequence[float]],
    title: str,
    xlabel: str,
    ylabel: str,
    x: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    ax=None,
    logy: bool = False,
    logx: bool = False,
):
    """Plot named curves (e.g. learning curves) on one labelled axis and return the axis.

    ``x`` is shared x values, a mapping name -> x values, or ``None`` for 1, 2, 3, ...
    """
    if not series:
        raise ValueError("curves() needs at least one series")
    ax = _new_ax(ax)
    for name, ys in series.items():
        ys = np.asarray(ys, dtype=float)
        xs = x.get(name) if isinstance(x, Mapping) else x
        xs = np.arange(1, len(ys) + 1) if xs is None else np.asarray(xs, dtype=float)
        if len(xs) != len(ys):
            raise ValueError(f"series {name!r}: {len(ys)} y values but {len(xs)} x values")
        ax.plot(xs, ys, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.legend()
    return ax


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, title: str = "", cmap: str = "gray", symmetric: bool = False):
    """Show a batch of images (N,H,W), (N,1,H,W) or (N,3,H,W) in a grid; return the figure.

    ``symmetric=True`` centres each image's colour scale on zero (useful for filters).
    """
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] in (1, 3):
        arr = arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)
    if arr.ndim not in (3, 4) or len(arr) == 0:
        raise ValueError(f"image_grid expects a non-empty batch of images, got shape {arr.shape}")
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"{len(titles)} titles for {len(arr)} images")
    n = len(arr)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = arr[i]
        if img.ndim == 3:  # colour
            lo, hi = img.min(), img.max()
            ax.imshow((img - lo) / (hi - lo + 1e-12))
        elif symmetric:
            m = np.abs(img).max() + 1e-12
            ax.imshow(img, cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            ax.imshow(img, cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap(matrix, title: str, xlabel: str, ylabel: str, xticklabels=None, yticklabels=None, ax=None, annotate: bool = False, cmap: str = "viridis"):
    """Draw a labelled heat map (e.g. a confusion matrix or attention weights); return the axis."""
    m = matrix.detach().cpu().numpy() if hasattr(matrix, "detach") else np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap expects a 2-D matrix, got shape {m.shape}")
    ax = _new_ax(ax)
    im = ax.imshow(m, cmap=cmap, aspect="auto")
    ax.figure.colorbar(im, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    if xticklabels is not None:
        ax.set_xticks(range(len(xticklabels)), labels=[str(t) for t in xticklabels])
    if yticklabels is not None:
        ax.set_yticks(range(len(yticklabels)), labels=[str(t) for t in yticklabels])
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", color="w" if v < m.mean() else "k", fontsize=8)
    return ax
