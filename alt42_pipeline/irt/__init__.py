"""In-process IRT engine: calibration (Bock-Aitkin EM), scoring and linking.

Pure library (no Dagster).  Parametrisation as R mirt:
``P = c + (1 - c) * logistic(a * theta + d)``, ``theta ~ N(0, 1)``.
"""

from .calibrate import CalibrationResult, calibrate
from .data import wide_to_long
from .linking import LinkingConstants, link, rescale
from .scoring import score
from .simulate import simulate_items, simulate_responses

__all__ = [
    "CalibrationResult",
    "LinkingConstants",
    "calibrate",
    "link",
    "rescale",
    "score",
    "simulate_items",
    "simulate_responses",
    "wide_to_long",
]
