"""The calibrated latent distribution survives the warehouse; anchors that drift are kept out
of the linking, queued for review and reported."""

import datetime as dt

import numpy as np
import pytest

from alt42_pipeline.calibration.pipeline import (
    CalibrationSettings,
    calibrate_and_link,
    current_items,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from alt42_pipeline.warehouse import Warehouse

from .conftest import IRT_DEMO, NOW

LAST = IRT_DEMO.last_day


def _calibrate(wh, settings, calibration_id="cal-1", now=NOW):
    first = LAST - dt.timedelta(days=settings.window_days - 1)
    responses = load_responses(wh, first, LAST)
    outcome = calibrate_and_link(responses, load_anchors(wh), settings)
    write_calibration(wh, outcome, settings, (first, LAST), calibration_id, None, now)
    return outcome


def test_rasch_latent_sd_is_stored_and_used_by_the_rescore(irt_warehouse_url):
    wh = Warehouse(irt_warehouse_url)
    wh.migrate()
    settings = CalibrationSettings(model="rasch")
    outcome = _calibrate(wh, settings)
    spec = wh.read("mirt_fit_meta").iloc[0]["model_spec"]
    latent = spec["latent"]
    # the Rasch calibration's latent SD is not 1 on its own scale, so not the linking slope
    assert latent["sd"] == pytest.approx(outcome.items.attrs["theta_sd"])
    assert abs(latent["sd"] - spec["linking_constants"]["slope"]) > 0.02
    items, _ = current_items(wh)
    assert items.attrs["theta_sd"] == pytest.approx(latent["sd"])
    assert items.attrs["theta_mean"] == pytest.approx(latent["mean"])
    before = wh.read("mirt_ability").set_index("user_id")
    since = dt.datetime.combine(LAST, dt.time())
    rescore(wh, settings, LAST, since, "run-x", NOW + dt.timedelta(days=1))
    after = wh.read("mirt_ability").set_index("user_id")
    changed = after.index[after.run_id == "run-x"]
    assert len(changed) > 0
    # same items and answers: the re-score equals the calibration's scores (it used prior
    # SD = linking slope before, which moved EAPs by up to 0.5 for the Rasch model)
    np.testing.assert_allclose(after.loc[changed, "theta"], before.loc[changed, "theta"], atol=1e-6)
