"""Categories from scores: the rule turning a canonical score in [0, 1] into an item's
response category for the polytomous models.

Per item (question):

1. **Values.** The item's score values are its *attainable* fractions when known (e.g.
   from the question's definition: ``attainable={item: [0, 0.5, 1]}``), else the
   distinct scores observed (rounded to ``decimals``).  With attainable values, a score
   between two of them counts as the lower one (partial credit is never rounded up).
2. **Categories.** Values in increasing order are categories ``0..K-1``.
3. **Collapsing.** While a category has fewer than ``min_count`` answers (a value nobody
   attained has 0) and more than two categories remain, the smallest such category is
   merged into its neighbour with fewer answers (the lower one on a tie); then, while
   there are more than ``max_categories``, the adjacent pair with the fewest answers
   together is merged.  Every merge is recorded.
4. **Binary and degenerate items.** Two categories is a binary item (model ``"2pl"``).
   A single category left (every answer the same) cannot be calibrated: the item is
   kept out with its reason, like the binary engine's all-correct items.

:func:`categories_from_scores` returns the responses with their ``category`` and a
table of the rule's outcome per item (:data:`MAP_COLUMNS`), the record of what was
collapsed that the calibration keeps in its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._messages import _fmt

MAP_COLUMNS = ("item_id", "n_categories", "values", "counts", "collapsed", "excluded")


def _collapse(values: list[float], counts: list[int], min_count: int, max_categories: int | None):
    """Groups of values (lists) after the merges of rule 3, and their descriptions."""
    groups = [[v] for v in values]
    n = list(counts)
    notes = []

    def merge(i, k):  # merge group i into neighbour k
        lo, hi = min(i, k), max(i, k)
        notes.append(f"{_label(groups[i])} ({n[i]} answers) into {_label(groups[k])}")
        groups[lo] = groups[lo] + groups[hi]
        n[lo] = n[lo] + n[hi]
        del groups[hi], n[hi]

    while len(groups) > 2:
        small = [i for i in range(len(groups)) if n[i] < min_count]
        if not small:
            break
        i = min(small, key=lambda i: (n[i], i))
        nbrs = [k for k in (i - 1, i + 1) if 0 <= k < len(groups)]
        k = min(nbrs, key=lambda k: (n[k], k))
        merge(i, k)
    if max_categories is not None:
        while len(groups) > max(max_categories, 2):
            i = min(range(len(groups) - 1), key=lambda i: (n[i] + n[i + 1], i))
            merge(i + 1, i)
    if len(groups) == 2 and min(n) == 0:
        notes.append(f"{_label(groups[int(np.argmin(n))])} never attained")
    return groups, n, notes


def _label(group) -> str:
    return "/".join(f"{v:g}" for v in group)


def categories_from_scores(
    scores: pd.DataFrame,
    *,
    min_count: int = 10,
    max_categories: int | None = None,
    attainable: Mapping | None = None,
    decimals: int = 6,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Categories of the answers in ``scores`` (``user_id, item_id, score`` in [0, 1]).

    Returns ``(responses, mapping)``: the rows with ``category`` (and ``correct``, 1 for
    the item's top category, for binary consumers), without the items that keep fewer
    than two categories; and the table ``item_id, n_categories, values`` (the scores of
    each category, as lists), ``counts``, ``collapsed`` (what was merged, ``""`` if
    nothing) and ``excluded`` (the reason, ``""`` if the item is kept).  Scores outside
    [0, 1] or missing raise ``ValueError`` naming the items.
    """
    if min_count < 1:
        raise ValueError("min_count must be at least 1 (a category nobody attained cannot be estimated)")
    for col in ("user_id", "item_id", "score"):
        if col not in scores:
            raise ValueError(f"scores need column {col!r}")
    s = pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(s) | (s < -1e-9) | (s > 1 + 1e-9)
    if bad.any():
        raise ValueError(
            f"scores must be in [0, 1]; {int(bad.sum())} rows are not, on items "
            f"{_fmt(pd.unique(scores['item_id'].to_numpy()[bad]))}"
        )
    s = np.round(np.clip(s, 0.0, 1.0), decimals)
    frame = pd.DataFrame({"item_id": scores["item_id"].to_numpy(), "score": s})
    category = np.full(len(frame), -1, dtype=np.int64)
    rows = []
    for item, grp in frame.groupby("item_id", sort=True):
        observed = grp["score"].to_numpy()
        if attainable is not None and item in attainable:
            values = sorted({round(float(v), decimals) for v in attainable[item]})
            pos = np.searchsorted(np.array(values), observed + 10.0**-decimals / 2, side="right") - 1
            pos = np.maximum(pos, 0)
        else:
            values, pos = np.unique(observed, return_inverse=True)
            values = values.tolist()
        counts = np.bincount(pos, minlength=len(values)).tolist()
        groups, n, notes = _collapse(values, counts, min_count, max_categories)
        value_cat = np.concatenate([[c] * len(g) for c, g in enumerate(groups)]).astype(np.int64)
        excluded = ""
        n_used = sum(1 for k in n if k > 0)
        if len(groups) < 2 or n_used < 2:
            excluded = "one category: every answer has the same score"
        else:
            category[grp.index.to_numpy()] = value_cat[pos]
        rows.append(
            {
                "item_id": item,
                "n_categories": len(groups),
                "values": [[float(v) for v in g] for g in groups],
                "counts": [int(k) for k in n],
                "collapsed": "; ".join(notes),
                "excluded": excluded,
            }
        )
    mapping = pd.DataFrame(rows, columns=list(MAP_COLUMNS))
    keep = category >= 0
    out = scores.iloc[np.flatnonzero(keep)].copy()
    out["category"] = category[keep]
    top = mapping.set_index("item_id")["n_categories"] - 1
    out["correct"] = (out["category"].to_numpy() == top.reindex(out["item_id"]).to_numpy()).astype(np.int8)
    return out, mapping


def apply_categories(scores: pd.DataFrame, values: Mapping, decimals: int = 6) -> np.ndarray:
    """Categories of ``scores`` (``item_id, score``) by a recorded rule: ``values`` maps an
    item to its categories' score values (the ``values`` column of
    :func:`categories_from_scores`).  A score counts in the highest category whose
    smallest value it reaches (so between two values, the lower one); -1 for items not in
    ``values``."""
    out = np.full(len(scores), -1, dtype=np.int64)
    s = np.round(pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype=float), decimals)
    items = scores["item_id"].to_numpy()
    for item, idx in pd.Series(np.arange(len(scores))).groupby(items).groups.items():
        groups = values.get(item)
        if not groups:
            continue
        lows = np.array([min(g) for g in groups], dtype=float)
        pos = np.asarray(idx)
        out[pos] = np.maximum(np.searchsorted(lows, s[pos] + 10.0**-decimals / 2, side="right") - 1, 0)
    return out
