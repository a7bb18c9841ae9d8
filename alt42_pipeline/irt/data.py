"""Turn long-format responses into compact index arrays.

The engine works on a person-major compressed layout (CSR by person):

* ``offsets`` (int64, ``n_users + 1``): the responses of user ``u`` are
  ``codes[offsets[u]:offsets[u + 1]]``;
* ``codes`` (int32): ``2 * item_index + correct``, so one integer carries both
  the item and the answer and indexes straight into per-item tables laid out as
  ``(2 * n_items, n_nodes)``.

A missing response is an absent row, so sparse designs cost only what is
observed.  Validation never drops anything silently: bad input raises a
``ValueError`` naming the offending users/items, and the only exclusions
(``on_invalid="exclude"``) are returned as a table that callers put on their
result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._messages import _MAX_LISTED, _fmt
from .jit import njit
from .model import exclusion_reasons

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("user_id", "item_id", "correct")


@dataclass(frozen=True)
class ResponseData:
    """Responses coded as CSR-by-person arrays (see module docstring)."""

    user_ids: pd.Index
    item_ids: pd.Index
    offsets: np.ndarray
    codes: np.ndarray
    item_n: np.ndarray
    item_correct: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_responses(self) -> int:
        return int(self.codes.shape[0])


def _encode(values: pd.Series, name: str, categories: pd.Index | None = None):
    """Dense int codes for ids; sorted unique ids when ``categories`` is None."""
    arr = values.to_numpy()
    if arr.dtype.kind == "u":
        arr = arr.astype(np.int64)
    if categories is not None:
        cat = categories.to_numpy()
        if arr.dtype.kind in "iu" and cat.dtype.kind in "iu" and arr.size and cat.size:
            lo = min(int(arr.min()), int(cat.min()))
            span = max(int(arr.max()), int(cat.max())) - lo + 1
            if span <= max(4 * arr.size, 1 << 20):
                # Lookup table instead of hashing every row.
                table = np.full(span, -1, dtype=np.int32)
                table[cat.astype(np.int64) - lo] = np.arange(cat.size, dtype=np.int32)
                return table[arr - lo if lo else arr], categories
        return categories.get_indexer(arr), categories
    if arr.dtype.kind in "iu" and arr.size:
        lo = int(arr.min())
        hi = int(arr.max())
        span = hi - lo + 1
        if span <= max(4 * arr.size, 1 << 20):
            # Dense-ish integer ids: a counting pass is much faster than hashing.
            shifted = arr - lo if lo else arr
            present = np.bincount(shifted, minlength=span) > 0
            remap = (np.cumsum(present, dtype=np.int64) - 1).astype(np.int32)
            uniques = np.flatnonzero(present) + lo
            return remap[shifted], pd.Index(uniques.astype(arr.dtype), name=name)
    codes, uniques = pd.factorize(arr, sort=True)
    return codes, pd.Index(uniques, name=name)


@njit(cache=True)
def _csr_by_user(user_codes, item_codes, correct, n_users):
    """Counting sort of the rows by user (sequential when the rows are
    already grouped by user)."""
    n = user_codes.shape[0]
    offsets = np.zeros(n_users + 1, dtype=np.int64)
    for k in range(n):
        offsets[user_codes[k] + 1] += 1
    for u in range(n_users):
        offsets[u + 1] += offsets[u]
    pos = offsets[:-1].copy()
    codes = np.empty(n, dtype=np.int32)
    for k in range(n):
        u = user_codes[k]
        codes[pos[u]] = 2 * item_codes[k] + correct[k]
        pos[u] += 1
    return offsets, codes


@njit(cache=True)
def _sort_within_users(offsets, codes):
    """Each user's responses in item order, so that results do not depend on
    the row order of the input (insertion sort: segments are short)."""
    for u in range(offsets.shape[0] - 1):
        lo = offsets[u]
        hi = offsets[u + 1]
        if hi - lo > 64:
            codes[lo:hi].sort()
            continue
        for i in range(lo + 1, hi):
            v = codes[i]
            k = i - 1
            while k >= lo and codes[k] > v:
                codes[k + 1] = codes[k]
                k -= 1
            codes[k + 1] = v


@njit(cache=True)
def _first_duplicates(offsets, codes, n_items, max_report):
    """(user, item) pairs answered more than once, at most ``max_report``."""
    last = np.full(n_items, -1, dtype=np.int64)
    out = np.empty((max_report, 2), dtype=np.int64)
    found = 0
    total = 0
    for u in range(offsets.shape[0] - 1):
        for k in range(offsets[u], offsets[u + 1]):
            j = codes[k] >> 1
            if last[j] == u:
                if found < max_report:
                    out[found, 0] = u
                    out[found, 1] = j
                    found += 1
                total += 1
            last[j] = u
    return out[:found], total


def _binary_correct(responses: pd.DataFrame) -> np.ndarray:
    col = responses["correct"]
    if col.dtype == bool:
        return col.to_numpy().astype(np.int8)
    if col.dtype.kind in "iu":
        values = col.to_numpy()
        bad = (values != 0) & (values != 1)
        if not bad.any():
            return values.astype(np.int8, copy=False)
    if not pd.api.types.is_numeric_dtype(col.dtype):
        try:
            col = pd.to_numeric(col)
        except (TypeError, ValueError) as exc:
            raise ValueError("column 'correct' must be 0/1 (or boolean); got non-numeric values") from exc
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~((values == 0.0) | (values == 1.0))
    if bad.any():
        rows = responses.loc[bad]
        raise ValueError(
            f"column 'correct' must be 0 or 1 (a missing response is an absent row); "
            f"{int(bad.sum())} rows are not, on items {_fmt(pd.unique(rows['item_id']))} "
            f"for users {_fmt(pd.unique(rows['user_id']))}"
        )
    return values.astype(np.int8)


def check_columns(responses: pd.DataFrame) -> None:
    if not isinstance(responses, pd.DataFrame):
        raise TypeError("responses must be a pandas DataFrame in long format")
    missing = [c for c in REQUIRED_COLUMNS if c not in responses.columns]
    if missing:
        raise ValueError(
            f"responses lack columns {missing}; expected long format with columns {list(REQUIRED_COLUMNS)}"
        )
    for c in ("user_id", "item_id"):
        nulls = responses[c].isna()
        if nulls.any():
            raise ValueError(f"column {c!r} has {int(nulls.sum())} missing ids")
    if len(responses) == 0:
        raise ValueError("responses are empty")


def prepare_responses(
    responses: pd.DataFrame,
    *,
    item_ids: pd.Index | None = None,
    min_item_responses: int = 0,
    check_degenerate_items: bool = False,
    on_invalid: str = "raise",
    sort_within_users: bool = True,
) -> tuple[ResponseData, pd.DataFrame]:
    """Validate long-format responses and code them as CSR-by-person arrays.

    Parameters
    ----------
    item_ids:
        If given, items are coded against this index (scoring with known
        items); responses on other items raise ``ValueError`` naming them.
    min_item_responses, check_degenerate_items:
        Calibration checks: items with fewer responses, or whose answers are
        all correct or all incorrect, are invalid.
    on_invalid:
        ``"raise"`` (default) raises ``ValueError`` naming the invalid items;
        ``"exclude"`` removes them and reports them in the returned table
        (columns ``item_id``, ``reason``, ``n``, ``n_correct``).
    sort_within_users:
        Put each user's responses in item order, so that sums over a user's
        responses (and so the estimates) do not depend on the row order of
        the input.  Scoring skips it: its per-user sums are float64 and the
        order changes results only at rounding level.

    Returns
    -------
    (ResponseData, excluded) where ``excluded`` is empty unless items were
    excluded.
    """
    if on_invalid not in ("raise", "exclude"):
        raise ValueError("on_invalid must be 'raise' or 'exclude'")
    check_columns(responses)
    correct = _binary_correct(responses)
    if item_ids is not None:
        item_codes, items = _encode(responses["item_id"], "item_id", pd.Index(item_ids))
        unknown = item_codes < 0
        if unknown.any():
            raise ValueError(
                f"responses on items without parameters: {_fmt(pd.unique(responses['item_id'].to_numpy()[unknown]))}"
            )
    else:
        item_codes, items = _encode(responses["item_id"], "item_id")
    user_codes, users = _encode(responses["user_id"], "user_id")
    n_items = len(items)
    item_n = np.bincount(item_codes, minlength=n_items)
    item_correct = np.bincount(item_codes, weights=correct, minlength=n_items).astype(np.int64)

    excluded = pd.DataFrame(
        {
            "item_id": pd.Series([], dtype=object),
            "reason": pd.Series([], dtype=object),
            "n": pd.Series([], dtype=np.int64),
            "n_correct": pd.Series([], dtype=np.int64),
        }
    )
    if item_ids is None:
        reasons = exclusion_reasons(item_n, item_correct, min_item_responses, degenerate=check_degenerate_items)
        bad = reasons != ""
        if bad.any():
            table = pd.DataFrame(
                {
                    "item_id": items[bad],
                    "reason": reasons[bad],
                    "n": item_n[bad].astype(np.int64),
                    "n_correct": item_correct[bad],
                }
            )
            if on_invalid == "raise":
                lines = "; ".join(
                    f"{r}: {_fmt(table.loc[table['reason'] == r, 'item_id'])}" for r in pd.unique(table["reason"])
                )
                raise ValueError(
                    f"{int(bad.sum())} items cannot be calibrated ({lines}). "
                    "Remove them or pass on_invalid='exclude' to list them on the result."
                )
            logger.warning("excluding %d items: %s", int(bad.sum()), _fmt(table["item_id"]))
            if bad.all():
                counts = table["reason"].value_counts().to_dict()
                raise ValueError(
                    f"no item can be calibrated: all {n_items} items are excluded "
                    f"({'; '.join(f'{r}: {n}' for r, n in counts.items())})"
                )
            keep_rows = ~bad[item_codes]
            data, _ = prepare_responses(responses.loc[keep_rows], on_invalid="raise")
            return data, table.reset_index(drop=True)

    offsets, codes = _csr_by_user(user_codes, item_codes, correct, len(users))
    if sort_within_users:
        _sort_within_users(offsets, codes)
    dups, n_dups = _first_duplicates(offsets, codes, n_items, _MAX_LISTED)
    if n_dups:
        pairs = [(users[u], items[j]) for u, j in dups]
        raise ValueError(
            f"{n_dups} duplicate (user_id, item_id) responses, e.g. {_fmt(pairs)}; keep one response per user and item"
        )
    data = ResponseData(
        user_ids=users,
        item_ids=items,
        offsets=offsets,
        codes=codes,
        item_n=item_n.astype(np.int64),
        item_correct=item_correct,
    )
    return data, excluded


def wide_to_long(wide: pd.DataFrame) -> pd.DataFrame:
    """Users x items table (NaN = not answered) to long-format responses."""
    stacked = wide.stack(future_stack=True).dropna()
    out = stacked.rename("correct").reset_index()
    out.columns = ["user_id", "item_id", "correct"]
    out["correct"] = out["correct"].astype(np.int8)
    return out
