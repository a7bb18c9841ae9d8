"""IRT calibration in the pipeline: responses and anchors from the warehouse, a backend
(the in-process engine or the remote IRT service), linking to the anchor scale, and the
writes of ``mirt_item_params``, ``mirt_fit_meta`` and ``mirt_ability``. No Dagster here."""

from . import anchors, health
from .anchors import kept_out
from .pipeline import (
    CalibrationOutcome,
    CalibrationSettings,
    CurrentCalibration,
    anchor_drift_table,
    calibrate_and_link,
    current_calibration,
    current_items,
    first_answers,
    item_fit_table,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from .remote import IrtServiceClient, IrtServiceError

__all__ = [
    "anchor_drift_table",
    "anchors",
    "item_fit_table",
    "kept_out",
    "CalibrationOutcome",
    "CalibrationSettings",
    "CurrentCalibration",
    "IrtServiceClient",
    "IrtServiceError",
    "calibrate_and_link",
    "current_calibration",
    "current_items",
    "first_answers",
    "health",
    "load_anchors",
    "load_responses",
    "rescore",
    "write_calibration",
]
