"""Tables of the reports domain: the weekly report, kept in the warehouse (a pod's files
vanish with it; a table is readable by any dashboard)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..types import JsonDocument, LongText, UtcDateTime


def define(md: sa.MetaData, name: Callable[[str], str]) -> None:
    sa.Table(
        name("weekly_reports"),
        md,
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("html", LongText, nullable=False),
        sa.Column("summary_md", sa.Text, nullable=False),
        sa.Column("numbers", JsonDocument, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("generated_at", UtcDateTime, nullable=False),
        comment="The weekly report per ISO week (Monday): self-contained HTML, Markdown summary, headline numbers.",
    )
