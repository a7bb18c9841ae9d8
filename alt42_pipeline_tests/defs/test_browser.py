"""A real browser on the real web UI: dagster-webserver on a small demo instance, driven by
headless Chromium (Debian's, never a downloaded one) through Playwright.

Screenshots are kept in ``artifacts/ui/`` (git-ignored) for whoever reads the CI run.
Under ``CI=true`` a missing Chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from alt42_pipeline.defs.irt import calibration_health, irt_calibration
from alt42_pipeline.defs.reports import weekly_report
from alt42_pipeline.defs.spine import events, features_topic_daily, questions, weekly_kpi
from alt42_pipeline.demo.write import write_assessment, write_moodle
from alt42_pipeline.warehouse import Warehouse, make_engine
from alt42_pipeline_tests.conftest import SMALL_DEMO, make_resources
from alt42_pipeline_tests.servers import ROOT, clean_env, free_port, start_webserver, stop, wait_until_serving

ARTIFACTS = ROOT / "artifacts" / "ui"
CHROMIUM = Path(os.environ.get("ALT42_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEEK = "2026-03-02"  # the small demo's week
UI_TIMEOUT_MS = 30_000  # a shared CI machine can be slow to render


def _require_browser() -> None:
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a missing browser is a failure)")
        pytest.skip(message)


#: A calibration of the small demo (60 students): items with few answers are excluded.
IRT_CONFIG = {
    # 20: on 60 students an item answered 15 times can come out with a negative slope, which
    # linking refuses (a thin item of the drawn data, not what this test looks at)
    "ops": {"irt_calibration": {"config": {"as_of": SMALL_DEMO.last_day.isoformat(), "min_item_responses": 20}}}
}


def _materialize_demo(platform, home: Path, data: Path) -> None:
    """The small demo's sources, then its spine (the days as one single-run backfill), a
    calibration and the weekly report, recorded in the instance at ``home``."""
    data.mkdir(parents=True, exist_ok=True)
    asmt, mdl, wh = (f"sqlite:///{data / name}" for name in ("assessment.db", "moodle.db", "warehouse.db"))
    write_assessment(platform, make_engine(asmt))
    write_moodle(platform, make_engine(mdl))
    resources = make_resources(wh, asmt, mdl)
    assets = [questions, events, features_topic_daily, weekly_kpi, weekly_report, irt_calibration, calibration_health]
    days = {
        "dagster/asset_partition_range_start": SMALL_DEMO.first_day.isoformat(),
        "dagster/asset_partition_range_end": SMALL_DEMO.last_day.isoformat(),
    }
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        for selection, kwargs in [
            ([questions], {}),
            ([events, features_topic_daily], {"tags": days}),
            ([weekly_kpi], {"partition_key": WEEK}),
            ([weekly_report], {"partition_key": WEEK}),  # ended weeks: a partitioning of its own
            ([irt_calibration], {"run_config": IRT_CONFIG}),
        ]:
            result = dg.materialize(
                assets, selection=dg.AssetSelection.assets(*selection), resources=resources, instance=instance, **kwargs
            )
            assert result.success
    finally:
        instance.dispose()


def _start_webserver(home: Path, data: Path, log: Path, port: int) -> subprocess.Popen:
    return start_webserver(clean_env(DAGSTER_HOME=str(home), ALT42_DATA_DIR=str(data)), log, port)


def _create_storage(home: Path) -> None:
    instance = dg.DagsterInstance.from_config(str(home))
    try:  # each storage creates its tables on first use
        instance.get_runs(limit=1)
        instance.get_asset_keys()
        instance.all_instigator_state()
    finally:
        instance.dispose()


def _wait_for_check_run(home: Path, check: str, limit_s: float = 180) -> None:
    """A run launched from the UI that executes ``check`` alone finishes successfully."""
    deadline = time.monotonic() + limit_s
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        while time.monotonic() < deadline:
            for run in instance.get_runs(limit=5):
                selected = run.asset_check_selection or set()
                if {c.name for c in selected} == {check} and not run.asset_selection:
                    if run.status == dg.DagsterRunStatus.SUCCESS:
                        return
                    if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                        pytest.fail(f"the run of {check} launched from the UI ended {run.status.value}")
            time.sleep(1)
    finally:
        instance.dispose()
    pytest.fail(f"no successful run of {check} alone within {limit_s:.0f} s")


def test_asset_graph_and_asset_page_render_our_assets_and_metadata(tmp_path, monkeypatch, small_platform):
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)

    home, data = tmp_path / "dagster_home", tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv("ALT42_DATA_DIR", str(data))  # the report materialized in this process
    monkeypatch.setenv("ALT42_REPORT_DIR", str(data / "reports"))
    # runs launched from the UI start at once (the default queue would wait for a daemon)
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log, port = tmp_path / "webserver.log", free_port()
    base = f"http://127.0.0.1:{port}"
    _create_storage(home)  # before the webserver, which would create the same tables at the same time
    proc = _start_webserver(home, data, log, port)  # boots while the demo materializes
    try:
        _materialize_demo(small_platform, home, data)
        wait_until_serving(proc, f"{base}/server_info", log, "dagster-webserver")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(UI_TIMEOUT_MS)
                # the UI's first-visit newsletter dialog covers the page whenever it shows up
                page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())

                # the asset graph: every domain group of the code location
                page.goto(f"{base}/asset-groups")
                for group in ("ingest", "features", "irt", "reports"):
                    expect(page.get_by_text(group, exact=True).first).to_be_visible()
                page.goto(f"{base}/locations/alt42_pipeline/asset-groups/reports")
                expect(page.get_by_text("weekly_report", exact=True).first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "asset_graph_reports.png"))

                # the catalogue: our assets with their descriptions
                page.goto(f"{base}/assets")
                for name in (
                    "questions",
                    "events",
                    "features_topic_daily",
                    "weekly_kpi",
                    "mirt_item_params",
                    "weekly_report",
                ):
                    expect(page.locator(f'a[href="/assets/{name}"]').first).to_be_visible()
                expect(page.get_by_text("self-contained HTML page", exact=False).first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "asset_catalog.png"))

                # an asset's page: definition, the materialization's metadata, and a plot
                page.goto(f"{base}/assets/weekly_report")
                expect(page.get_by_text("analytics-platform").first).to_be_visible()  # owner
                expect(page.get_by_text("matplotlib", exact=True).first).to_be_visible()  # kind
                for label in ("active_students", "attempts", "drifted_anchors", "summary", "kpi_trend"):
                    expect(page.get_by_text(label, exact=True).first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "asset_weekly_report.png"))
                row = page.get_by_role("row").filter(has=page.get_by_text("kpi_trend", exact=True))
                row.get_by_text("Show Markdown").click()
                plot = page.locator('img[src^="data:image/png;base64,"]').first
                expect(plot).to_be_visible()
                assert plot.evaluate("img => img.naturalWidth") > 100  # decoded, not a broken image
                page.screenshot(path=str(ARTIFACTS / "asset_weekly_report_kpi_trend.png"))
                page.keyboard.press("Escape")

                # its check, with its description
                page.goto(f"{base}/assets/weekly_report?view=checks")
                expect(page.get_by_text("weekly_report_self_contained", exact=True).first).to_be_visible()
                expect(page.get_by_text("every image is inlined", exact=False).first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "asset_weekly_report_checks.png"))

                # finding 1: a partition of the single-run backfill shows its own day, not the range's total
                day = "2026-03-03"
                rows = Warehouse(f"sqlite:///{data / 'warehouse.db'}").count(
                    "events", {"event_date": dt.date(2026, 3, 3)}
                )
                total = Warehouse(f"sqlite:///{data / 'warehouse.db'}").count("events")
                page.goto(f"{base}/assets/events?view=partitions&partition={day}")
                row_count = page.get_by_role("row").filter(has=page.get_by_text("dagster/row_count", exact=True))
                expect(row_count.first).to_contain_text(str(rows))
                range_total = page.get_by_role("row").filter(has=page.get_by_text("range_events", exact=True))
                expect(range_total.first).to_contain_text(str(total))
                assert rows != total
                page.screenshot(path=str(ARTIFACTS / "events_partition_2026-03-03.png"))

                # finding 2: an IRT check executed alone from the UI runs and passes its verdict
                page.goto(f"{base}/assets/mirt_item_params?view=checks")
                page.get_by_text("item_parameter_bounds", exact=True).first.click()
                page.locator("button").filter(has_text=re.compile(r"^\s*Execute\s*$")).click()
                expect(page.get_by_text("Launched run", exact=False).first).to_be_visible()
                _wait_for_check_run(home, "item_parameter_bounds")
                page.screenshot(path=str(ARTIFACTS / "irt_check_executed_alone.png"))

                # the report file itself, as a reader opens it: every inlined plot decodes
                page.goto((data / "reports" / f"weekly-report-{WEEK}.html").as_uri())
                expect(page.get_by_role("heading", level=1)).to_contain_text("week of 2026-03-02")
                widths = page.locator("img").evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
                assert len(widths) >= 2 and min(widths) > 100
                page.screenshot(path=str(ARTIFACTS / "weekly_report_page.png"), full_page=True)

                # on a phone-width screen: the page fits the width (wide tables scroll inside
                # their own box) and the plots shrink to it
                page.set_viewport_size({"width": 390, "height": 844})
                page.reload()
                fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
                assert fits, "the report scrolls sideways on a phone-width screen"
                shown = page.locator("img").evaluate_all("imgs => imgs.map(img => img.getBoundingClientRect().width)")
                assert max(shown) <= 390
                page.screenshot(path=str(ARTIFACTS / "weekly_report_phone.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop(proc)
