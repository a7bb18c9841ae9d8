"""Long-format responses with categories coded for the mixed-format engine.

A response's value is its category ``0..K-1`` (column ``category``, else ``correct``;
binary items answer 0/1).  The coding is the CSR-by-person layout of :mod:`.data` with
one row per item category: ``code = row_start[item] + category``.

Which categories an item has: ``n_categories`` given per item, else the highest observed
category + 1 (at least 2).  For calibration, an item needs every category observed (an
unobserved category's intercept has no finite estimate): a missing one is an invalid
item, raised by name or excluded with the reason ``"categories [..] never observed"``
(:mod:`.categories` collapses them beforehand in the pipeline).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._messages import _fmt
from .data import _encode, _sort_within_users, check_columns
from .model import exclusion_reasons

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolyData:
    user_ids: pd.Index
    item_ids: pd.Index
    offsets: np.ndarray
    codes: np.ndarray
    ncat: np.ndarray  # categories per item
    row_start: np.ndarray  # first table row of each item (n_items + 1 entries)
    counts: np.ndarray  # responses per item and category (items x most categories)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_responses(self) -> int:
        return int(self.codes.shape[0])

    @property
    def item_n(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @property
    def code_item(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_items, dtype=np.int64), self.ncat)


def value_column(responses: pd.DataFrame) -> str:
    return "category" if "category" in responses.columns else "correct"


def _categories(responses: pd.DataFrame) -> np.ndarray:
    col = value_column(responses)
    values = pd.to_numeric(responses[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        rows = responses.loc[bad]
        raise ValueError(
            f"column {col!r} must hold categories 0, 1, 2, ... (a missing response is an absent row); "
            f"{int(bad.sum())} rows do not, on items {_fmt(pd.unique(rows['item_id']))}"
        )
    return values.astype(np.int64)


def prepare(
    responses: pd.DataFrame,
    *,
    item_ids: pd.Index | None = None,
    n_categories: Mapping | pd.Series | np.ndarray | None = None,
    min_item_responses: int = 0,
    check_items: bool = False,
    on_invalid: str = "raise",
    sort_within_users: bool = True,
) -> tuple[PolyData, pd.DataFrame]:
    """Validate and code responses; see module docstring.  ``item_ids`` codes against
    known items (scoring), with ``n_categories`` an array in their order.  Returns the
    data and the table of excluded items (``item_id, reason, n, n_correct``)."""
    if on_invalid not in ("raise", "exclude"):
        raise ValueError("on_invalid must be 'raise' or 'exclude'")
    check_columns_poly(responses)
    cat = _categories(responses)
    if item_ids is not None:
        item_codes, items = _encode(responses["item_id"], "item_id", pd.Index(item_ids))
        unknown = item_codes < 0
        if unknown.any():
            raise ValueError(
                f"responses on items without parameters: {_fmt(pd.unique(responses['item_id'].to_numpy()[unknown]))}"
            )
    else:
        item_codes, items = _encode(responses["item_id"], "item_id")
    J = len(items)
    top = np.zeros(J, dtype=np.int64)
    np.maximum.at(top, item_codes, cat)
    if n_categories is None:
        ncat = np.maximum(top + 1, 2)
    elif isinstance(n_categories, (Mapping, pd.Series)):
        given = pd.Series(n_categories, dtype="float64") if isinstance(n_categories, Mapping) else n_categories
        ncat = given.reindex(items).to_numpy(dtype=np.float64)
        ncat = np.where(np.isnan(ncat), np.maximum(top + 1, 2), ncat).astype(np.int64)
    else:
        ncat = np.asarray(n_categories, dtype=np.int64)
    over = top >= ncat
    if over.any():
        raise ValueError(
            f"responses in categories beyond an item's n_categories on items {_fmt(items[over])} "
            f"(categories are 0..n_categories-1)"
        )
    m = int(ncat.max()) if J else 2
    counts = np.zeros((J, m), dtype=np.int64)
    np.add.at(counts, (item_codes, cat), 1)

    excluded = pd.DataFrame(
        {
            "item_id": pd.Series([], dtype=object),
            "reason": pd.Series([], dtype=object),
            "n": pd.Series([], dtype=np.int64),
            "n_correct": pd.Series([], dtype=np.int64),
        }
    )
    if check_items:
        n = counts.sum(axis=1)
        binary = ncat == 2
        reasons = np.full(J, "", dtype=object)
        reasons[binary] = exclusion_reasons(n[binary], counts[binary, 1], min_item_responses)
        few = n < min_item_responses
        reasons[~binary & few] = f"fewer than {min_item_responses} responses"
        for j in np.flatnonzero(~binary & ~few):
            missing = [k for k in range(ncat[j]) if counts[j, k] == 0]
            if missing:
                reasons[j] = f"categories {missing} never observed"
        bad = reasons != ""
        if bad.any():
            table = pd.DataFrame(
                {
                    "item_id": items[bad],
                    "reason": reasons[bad],
                    "n": n[bad].astype(np.int64),
                    "n_correct": (counts[bad] * np.arange(m)).sum(axis=1).astype(np.int64),
                }
            )
            if on_invalid == "raise" or bad.all():
                lines = "; ".join(
                    f"{r}: {_fmt(table.loc[table['reason'] == r, 'item_id'])}" for r in pd.unique(table["reason"])
                )
                raise ValueError(
                    f"{int(bad.sum())} items cannot be calibrated ({lines}). "
                    + (
                        "No item is left."
                        if bad.all()
                        else "Remove them or pass on_invalid='exclude' to list them on the result."
                    )
                )
            logger.warning("excluding %d items: %s", int(bad.sum()), _fmt(table["item_id"]))
            keep = ~bad[item_codes]
            given = None
            if n_categories is not None:
                given = pd.Series(ncat, index=items)[~bad]
            data, _ = prepare(responses.loc[keep], n_categories=given, sort_within_users=sort_within_users)
            return data, table.reset_index(drop=True)

    row_start = np.concatenate([[0], np.cumsum(ncat)]).astype(np.int64)
    user_codes, users = _encode(responses["user_id"], "user_id")
    order = np.argsort(user_codes, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(user_codes, minlength=len(users)))]).astype(np.int64)
    codes = (row_start[:-1][item_codes] + cat)[order].astype(np.int32)
    if sort_within_users:
        _sort_within_users(offsets, codes)
        code_item = np.repeat(np.arange(J), ncat)[codes]
        same = code_item[1:] == code_item[:-1]
        same[offsets[1:-1] - 1] = False  # a user's first response never repeats the last one's
        if same.any():
            at = np.flatnonzero(same)
            user_of = np.searchsorted(offsets, at, side="right") - 1
            pairs = [(users[u], items[j]) for u, j in zip(user_of[:20], code_item[at[:20]])]
            raise ValueError(
                f"{int(same.sum())} duplicate (user_id, item_id) responses, e.g. {_fmt(pairs)}; "
                "keep one response per user and item"
            )
    return PolyData(users, items, offsets, codes, ncat.astype(np.int64), row_start, counts), excluded


def check_columns_poly(responses: pd.DataFrame) -> None:
    """As :func:`.data.check_columns`, with ``category`` standing in for ``correct``."""
    if isinstance(responses, pd.DataFrame) and "category" in responses.columns and "correct" not in responses:
        check_columns(responses.assign(correct=0))
    else:
        check_columns(responses)
