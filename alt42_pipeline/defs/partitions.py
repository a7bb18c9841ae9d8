"""Partitioning shared by the domains: daily event days and Monday-start ISO weeks (UTC)."""

from __future__ import annotations

import dagster as dg

from .. import settings

_START = settings.load().partitions_start

#: ``end_offset=1`` exposes today: the heartbeat re-ingests today's partition every 30
#: minutes so student state sees events of the last half hour, not of yesterday.
daily = dg.DailyPartitionsDefinition(start_date=_START, timezone="UTC", end_offset=1)
#: Weeks start on Monday 00:00 UTC; ``end_offset=1`` exposes the current, unfinished week
#: so its KPIs can be refreshed every day.
weekly = dg.WeeklyPartitionsDefinition(start_date=_START, day_offset=1, timezone="UTC", end_offset=1)
