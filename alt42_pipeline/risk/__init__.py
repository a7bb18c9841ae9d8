"""Drop-out risk: labels from history, features as of each day, a calibrated model that is
measured on held-out time, and the scores that put students in ``at_risk``."""

from .daily import FEATURES, Grid, build_grid, feature_cube, labels, population
from .model import Dataset, RiskModel, Training, TrainingConfig, decide_promotion, explain, train
from .queries import daily_from_events, read_daily, topics_from_events

__all__ = [
    "FEATURES",
    "Dataset",
    "Grid",
    "RiskModel",
    "Training",
    "TrainingConfig",
    "build_grid",
    "daily_from_events",
    "decide_promotion",
    "explain",
    "feature_cube",
    "labels",
    "population",
    "read_daily",
    "topics_from_events",
    "train",
]
