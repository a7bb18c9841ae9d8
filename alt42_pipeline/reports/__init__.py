"""What people read (no Dagster here): the weekly report (``weekly``), its plots
(``plots``, matplotlib without a display), the operator's status screen (``status``) and
the table reads they share (``tables``)."""

from .weekly import (
    WeeklyReport,
    WrittenReport,
    inspect_stored,
    kpi_trend,
    kpi_trend_markdown,
    render_markdown,
    write_week,
)

__all__ = [
    "WeeklyReport",
    "WrittenReport",
    "inspect_stored",
    "kpi_trend",
    "kpi_trend_markdown",
    "render_markdown",
    "write_week",
]
