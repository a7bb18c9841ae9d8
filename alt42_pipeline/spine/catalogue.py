"""The item catalogue (``questions``) from both sources' question banks (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..irt.model import b_from_d, d_from_b


@dataclass
class CatalogueResult:
    rows: int
    anchors: int
    by_source: dict[str, int]
    problems: dict[str, list[str]] = field(default_factory=dict)


def _reference(meta: dict) -> tuple[float | None, float | None, float | None, float | None]:
    irt = meta.get("irt") or {}
    a, b, d, c = (irt.get(k) for k in ("a", "b", "d", "c"))
    a = float(a) if a is not None else None
    if a is not None and d is None and b is not None:
        d = d_from_b(a, float(b))
    if a and b is None and d is not None:
        b = b_from_d(a, float(d))
    return (
        a,
        (float(d) if d is not None else None),
        (float(b) if b is not None else None),
        (float(c) if c is not None else None),
    )


def build_catalogue(
    asmt_questions: pd.DataFrame, moodle_questions: pd.DataFrame, now: dt.datetime
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Catalogue rows plus the problems found (bad meta JSON, anchors without parameters)."""
    problems: dict[str, list[str]] = {"unparseable_meta": [], "anchor_without_reference": []}
    rows = []
    for q in asmt_questions.itertuples(index=False):
        qid = str(int(q.id))
        meta = None
        if q.meta is not None and not (isinstance(q.meta, float) and np.isnan(q.meta)):
            try:
                meta = json.loads(q.meta) if isinstance(q.meta, str) else dict(q.meta)
                if not isinstance(meta, dict):
                    raise ValueError("meta is not an object")
            except (ValueError, TypeError):
                problems["unparseable_meta"].append(qid)
                meta = None
        tags = (meta or {}).get("tags") or []
        is_anchor = "anchor" in tags
        a, d, b, c = _reference(meta or {})
        if is_anchor and (a is None or d is None):
            problems["anchor_without_reference"].append(qid)
        rows.append((qid, q.topic, "assessment", is_anchor, a, d, b, c, meta))
    for q in moodle_questions.itertuples(index=False):
        rows.append((f"mdl:{int(q.id)}", f"mdl-cat:{int(q.category)}", "moodle", False, None, None, None, None, None))
    frame = pd.DataFrame(
        rows, columns=["question_id", "topic_id", "source", "is_anchor", "ref_a", "ref_d", "ref_b", "ref_c", "meta"]
    )
    frame["updated_at"] = now
    return frame, {k: v for k, v in problems.items() if v}
