"""Small helpers every domain's Dagster code shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pandas as pd

OWNERS = ["team:analytics-platform"]


def partition_days(context: dg.AssetExecutionContext) -> Iterator[dt.date]:
    """Every day of the run's partition (range), for daily-partitioned assets."""
    window = context.partition_time_window
    day = window.start.date()
    while day < window.end.date():
        yield day
        day += dt.timedelta(days=1)


def partition_weeks(context: dg.AssetExecutionContext) -> Iterator[dt.date]:
    """The Monday of every week in the run's partition (range), for weekly assets."""
    window = context.partition_time_window
    week = window.start.date()
    while week < window.end.date():
        yield week
        week += dt.timedelta(days=7)


def preview(frame: pd.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """A small markdown table of ``frame`` for the asset page."""
    if frame is None or frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))
