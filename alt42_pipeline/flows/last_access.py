"""Moodle's ``user_lastaccess`` as a warehouse snapshot."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..sources import moodle
from ..warehouse import Warehouse


def refresh_last_access(wh: Warehouse, moodle_engine: sa.Engine, prefix: str, now: dt.datetime) -> pd.DataFrame:
    raw = moodle.read_last_access(moodle_engine, prefix)
    frame = pd.DataFrame(
        {
            "user_id": pd.to_numeric(raw["userid"]).astype("int64"),
            "course_id": pd.to_numeric(raw["courseid"]).astype("int64"),
            "last_access_at": pd.to_datetime(pd.to_numeric(raw["timeaccess"]), unit="s"),
            "updated_at": now,
        }
    )
    wh.replace("user_last_access", frame, None)
    return frame
