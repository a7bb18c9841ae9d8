"""Pictures and reports: plots for the UI and the weekly report (no Dagster here)."""
