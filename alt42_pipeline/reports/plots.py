"""Plots as PNG bytes (matplotlib, no display), and their embedding in Markdown."""

from __future__ import annotations

import base64
import functools
import io
import logging

import numpy as np
import pandas as pd

from ..irt.model import item_arrays, response, total_information
from ..irt.polymodel import category_probs, expected_score, is_polytomous_table, poly_item_arrays
from ..irt.polymodel import item_information as poly_information

THETA = np.linspace(-4, 4, 161)


@functools.cache
def _pyplot():
    """matplotlib's pyplot without a display, imported by the first plot: importing it costs
    about a second, which the code location and the runs that draw nothing do not pay."""
    import matplotlib

    matplotlib.use("Agg")
    # week labels ("03-02") are categories on purpose; matplotlib says so at INFO on every plot
    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    _pyplot().close(fig)
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """A Markdown image with the PNG inline (renders in the Dagster UI and in HTML)."""
    return f"![{alt}]({png_base64(png)})"


def test_information(items: pd.DataFrame, title: str = "Test information") -> bytes:
    """Test information curve (2PL/3PL Fisher information summed over items) with its SE."""
    if is_polytomous_table(items):  # partial credit: each item's own information
        p = poly_item_arrays(items)
        info = poly_information(THETA, p.kind, p.a, p.D, p.ncat).sum(axis=0)
    else:
        info = total_information(THETA, *item_arrays(items, null_c_is_zero=True))
    fig, ax = _pyplot().subplots(figsize=(6, 3.2))
    ax.plot(THETA, info, color="#1f77b4", label="information")
    ax.set_xlabel("θ (reference scale)")
    ax.set_ylabel("information")
    ax2 = ax.twinx()
    ax2.plot(THETA, 1 / np.sqrt(np.maximum(info, 1e-9)), color="#d62728", ls="--", label="SE(θ)")
    ax2.set_ylabel("SE(θ)")
    ax2.set_ylim(0, min(2.0, float(np.nanmax(1 / np.sqrt(np.maximum(info, 1e-9))))))
    ax.set_title(title)
    return _png(fig)


def wright_map(items: pd.DataFrame, abilities: pd.DataFrame, title: str = "Wright map") -> bytes:
    """Persons (θ histogram) against item difficulties (b) on one scale."""
    fig, (left, right) = _pyplot().subplots(1, 2, sharey=True, figsize=(6, 4), gridspec_kw={"width_ratios": [3, 2]})
    theta = abilities["theta"].dropna().to_numpy()
    b = items["b"].dropna().to_numpy()
    lo, hi = (
        float(min(theta.min(initial=0), b.min(initial=0))) - 0.5,
        float(max(theta.max(initial=0), b.max(initial=0))) + 0.5,
    )
    bins = np.linspace(lo, hi, 40)
    left.hist(theta, bins=bins, orientation="horizontal", color="#1f77b4")
    left.invert_xaxis()
    left.set_xlabel(f"students ({len(theta)})")
    left.set_ylabel("logit scale")
    right.hist(b, bins=bins, orientation="horizontal", color="#ff7f0e")
    right.set_xlabel(f"items ({len(b)})")
    fig.suptitle(title)
    return _png(fig)


def iccs(items: pd.DataFrame, title: str = "Item characteristic curves", limit: int = 12) -> bytes:
    """ICCs of up to ``limit`` items (e.g. the flagged ones); a partial-credit item's curve is
    its expected score as a share of the maximum."""
    shown = items.head(limit)
    fig, ax = _pyplot().subplots(figsize=(6, 3.5))
    if is_polytomous_table(shown):
        q = poly_item_arrays(shown)
        p = (expected_score(THETA, q.kind, q.a, q.D, q.ncat) / (q.ncat[:, None] - 1)).T
    else:
        p = response(THETA[:, None], *item_arrays(shown, null_c_is_zero=True))
    for j, item in enumerate(shown.index):
        ax.plot(THETA, p[:, j], label=str(item))
    ax.set_xlabel("θ")
    ax.set_ylabel("P(correct)")
    ax.set_ylim(0, 1)
    if len(shown) <= 12:
        ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    return _png(fig)


def polytomous_items(items: pd.DataFrame) -> pd.DataFrame:
    """The partial-credit items (more than two categories) of an items table."""
    if not is_polytomous_table(items):
        return items.iloc[:0]
    return items[items["n_categories"] > 2]


def category_curves(items: pd.DataFrame, title: str = "Category response curves", limit: int = 6) -> bytes:
    """Category response curves (one panel per partial-credit item, up to ``limit``) with the
    item's information on a second axis."""
    shown = items.head(limit)
    q = poly_item_arrays(shown)
    P = category_probs(THETA, q.kind, q.a, q.D, q.ncat)
    info = poly_information(THETA, q.kind, q.a, q.D, q.ncat)
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = _pyplot().subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for j, item in enumerate(shown.index):
        ax = axes[j // cols][j % cols]
        for k in range(int(q.ncat[j])):
            ax.plot(THETA, P[j, k], label=f"{k}")
        ax.set_ylim(0, 1)
        ax.set_title(f"{item} ({q.model[j]})", fontsize=8)
        ax.set_xlabel("θ", fontsize=7)
        ax2 = ax.twinx()
        ax2.plot(THETA, info[j], color="black", ls=":", lw=1)
        ax2.tick_params(labelsize=6)
        ax.tick_params(labelsize=6)
        if j == 0:
            ax.legend(fontsize=6, title="category", title_fontsize=6)
    for j in range(len(shown), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"{title} (dotted: information)", fontsize=9)
    return _png(fig)


def line_chart(
    frame: pd.DataFrame, x: str, ys: list[str], title: str, ylabel: str = "", ylim: tuple[float, float] | None = None
) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6.5, 3.2))
    for y in ys:
        ax.plot(frame[x], frame[y], marker="o", label=y)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if ylim is not None:  # shares on their whole range: a 2-point change does not look like a collapse
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def bar_chart(labels: list[str], values: list[float], title: str, ylabel: str = "") -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6, 3))
    ax.bar(labels, values, color="#1f77b4")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    return _png(fig)


def histogram(values: np.ndarray, title: str, xlabel: str, bins: int = 30) -> bytes:
    fig, ax = _pyplot().subplots(figsize=(6, 3))
    ax.hist(values, bins=bins, color="#2ca02c")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _png(fig)


def anchor_drift(drift: pd.DataFrame, title: str = "Anchor drift: linked against reference b") -> bytes:
    """Each anchor's linked difficulty against its reference value; drifted anchors in red."""
    fig, ax = _pyplot().subplots(figsize=(4.5, 4))
    flagged = drift["drifted"].astype(bool).to_numpy()
    ax.scatter(drift["b_ref"][~flagged], drift["b"][~flagged], color="#1f77b4", label="stable")
    ax.scatter(drift["b_ref"][flagged], drift["b"][flagged], color="#d62728", label="drifted")
    lo = float(min(drift["b_ref"].min(), drift["b"].min())) - 0.5
    hi = float(max(drift["b_ref"].max(), drift["b"].max())) + 0.5
    ax.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=1)
    ax.set_xlabel("reference b")
    ax.set_ylabel("linked b")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _png(fig)


def png_base64(png: bytes) -> str:
    """A PNG as a ``data:`` URI, for ``<img src=...>`` in self-contained HTML."""
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"
