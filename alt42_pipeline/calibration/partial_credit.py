"""Partial credit in the calibration pipeline: categories, mixed calibration, storage.

With ``polytomous: true`` (the default) the built-in engine calibrates the answers'
canonical scores: :func:`..irt.categories.categories_from_scores` turns them into
categories per question (collapsing categories with fewer than
``min_category_responses`` answers, recording what it merged); questions left with two
categories are binary items of ``model`` (2PL; ``rasch``/``1pl`` make every item a PCM
item, the equal-slope family), the others ``polytomous_model`` items.  When no answer
has partial credit the calibration is the binary one, unchanged.  A question whose
partial-credit categories all collapse into two is a binary item whose answers are coded
by the rule (e.g. a score of 2/3 or more counts as correct), not by full marks.  The remote IRT service
calibrates binary answers only (its protocol has no categories).

Storage (``mirt_item_params``, migration 0008): one row per item as before; a
polytomous item's ``a`` is its slope, ``b`` its location (average threshold) and
``d = -a * b``, so every reader of the binary columns sees a sensible summary, and the
JSON column ``categories`` holds ``model``, ``n_categories``, the intercepts ``d`` and
b-form thresholds ``b``, their ``se_d``, the score ``values`` of each category and what
was ``collapsed``.  Binary items of a partial-credit calibration carry the JSON too (their
score values), so re-scoring maps new scores the same way.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ..irt.categories import apply_categories, categories_from_scores
from ..irt.polymodel import intercept_columns, is_polytomous_table, threshold_columns

log = logging.getLogger(__name__)


def has_partial_credit(responses: pd.DataFrame) -> bool:
    """Whether any answer scored strictly between 0 and 1."""
    s = responses["score"].to_numpy(dtype=float)
    return bool(((s > 0) & (s < 1)).any())


def categorise(responses: pd.DataFrame, min_count: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(responses with category, categories table, excluded items)`` from the scores."""
    coded, mapping = categories_from_scores(responses, min_count=min_count)
    dropped = mapping[mapping["excluded"] != ""]
    n = responses.groupby("item_id").size()
    excluded = pd.DataFrame(
        {
            "item_id": dropped["item_id"].to_numpy(),
            "reason": dropped["excluded"].to_numpy(),
            "n": n.reindex(dropped["item_id"]).fillna(0).astype("int64").to_numpy(),
            "n_correct": (
                responses[responses["item_id"].isin(dropped["item_id"])]
                .groupby("item_id")["correct"]
                .sum()
                .reindex(dropped["item_id"])
                .fillna(0)
                .astype("int64")
                .to_numpy()
            ),
        }
    )
    return coded, mapping.set_index("item_id"), excluded


def item_models(mapping: pd.DataFrame, model: str, polytomous_model: str) -> dict:
    """The engine's model per item (see module docstring)."""
    if model == "3pl":
        raise ValueError("the 3PL does not mix with partial credit: set polytomous to false, or model to 2pl")
    poly = mapping.index[mapping["n_categories"] > 2]
    if model in ("rasch", "1pl"):
        return dict.fromkeys(mapping.index, "pcm")
    return dict.fromkeys(poly, polytomous_model)


def polytomous_spec(items: pd.DataFrame, categories: pd.DataFrame | None, settings) -> dict:
    """The ``polytomous`` entry of ``mirt_fit_meta.model_spec``."""
    if categories is None or not is_polytomous_table(items):
        return {"enabled": bool(getattr(settings, "polytomous", False)), "items": 0}
    poly = items.index[items["n_categories"] > 2]
    collapsed = categories.loc[categories["collapsed"] != "", "collapsed"]
    return {
        "enabled": True,
        "model": settings.polytomous_model,
        "items": int(len(poly)),
        "models": {str(k): int(v) for k, v in items["model"].value_counts().items()},
        "min_category_responses": settings.min_category_responses,
        "collapsed": {str(k): v for k, v in collapsed.items()},
    }


def categories_json(items: pd.DataFrame, categories: pd.DataFrame | None) -> list:
    """The ``categories`` column of ``mirt_item_params`` per item (None for binary tables)."""
    if not is_polytomous_table(items):
        return [None] * len(items)
    m = int(items["n_categories"].max()) - 1
    out = []
    for item, row in items.iterrows():
        K = int(row["n_categories"])
        doc = {
            "model": str(row["model"]),
            "n_categories": K,
            "d": [_num(row[c]) for c in intercept_columns(m)[: K - 1]],
            "b": [_num(row[c]) for c in threshold_columns(m)[: K - 1]],
            "se_d": [_num(row.get(f"se_{c}")) for c in intercept_columns(m)[: K - 1]],
        }
        if categories is not None and item in categories.index:
            doc["values"] = categories.at[item, "values"]
            doc["collapsed"] = categories.at[item, "collapsed"]
        out.append(doc)
    return out


def _num(v):
    return None if v is None or not np.isfinite(v) else float(v)


def summary_d(items: pd.DataFrame) -> np.ndarray:
    """The ``d`` column written for every item: a binary item's intercept, a polytomous
    item's ``-a * location``."""
    if not is_polytomous_table(items):
        return items["d"].to_numpy()
    return np.where(items["n_categories"] > 2, -items["a"] * items["b"], items["d"]).astype(float)


def items_from_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Items table (mixed if any row has ``categories``) and the score values per item from
    ``mirt_item_params`` rows indexed by item_id."""
    docs = rows["categories"] if "categories" in rows else pd.Series(None, index=rows.index)
    docs = docs.map(lambda d: json.loads(d) if isinstance(d, str) else d)
    if docs.isna().all():
        items = rows[["a", "d", "b", "c"]]
        if items["c"].isna().all():
            items = items.drop(columns=["c"])
        return items, {}
    ncat = docs.map(lambda d: int(d["n_categories"]) if isinstance(d, dict) else 2).astype("int64")
    m = int(ncat.max()) - 1
    table = pd.DataFrame(index=rows.index)
    table["model"] = docs.map(lambda d: d["model"] if isinstance(d, dict) else "2pl")
    table["n_categories"] = ncat
    table["a"] = rows["a"].astype(float)
    table["b"] = rows["b"].astype(float)
    for k, col in enumerate(intercept_columns(m)):
        table[col] = [
            (d["d"][k] if k < len(d["d"]) else np.nan)
            if isinstance(d, dict)
            else (rows.at[i, "d"] if k == 0 else np.nan)
            for i, d in docs.items()
        ]
    table["d"] = np.where(ncat == 2, table["d1"], np.nan)
    values = {i: d["values"] for i, d in docs.items() if isinstance(d, dict) and d.get("values")}
    table.attrs["category_values"] = values
    return table, values


def categorised(responses: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """``responses`` (from ``load_responses``) with the categories of the calibration that
    ``items`` comes from (:func:`items_from_rows`); unchanged for binary calibrations."""
    return rescore_categories(responses, items.attrs.get("category_values") or {})


def rescore_categories(responses: pd.DataFrame, values: dict) -> pd.DataFrame:
    """Responses with ``category`` by the current calibration's recorded rule; items it
    did not record keep their 0/1 answer."""
    if not values or responses.empty or "score" not in responses:
        return responses
    cat = apply_categories(responses, values)
    out = responses.copy()
    out["category"] = np.where(cat >= 0, cat, responses["correct"].to_numpy())
    return out
