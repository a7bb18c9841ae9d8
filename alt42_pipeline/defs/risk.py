"""Dagster definitions of the drop-out risk domain: the nightly model and the daily scores.

Thin shells over :mod:`alt42_pipeline.risk.store`: both follow the nightly ingest by
automation (no clock offset), take their settings from the state resource and report what
the domain returned. The promotion decision is the domain's; the check shows it.
"""

import datetime as dt

import dagster as dg

from ..clock import utcnow
from ..risk.model import TooLittleHistory, TrainingConfig
from ..risk.store import latest_model_record, score, train_nightly
from ..settings import StateSettings
from ..state import load_rules
from .automation import AFTER_NEW_ANSWERS
from .freshness import RISK
from .resources import StateResource, WarehouseResource
from .shared import OWNERS, k8s_tags, rounded, table_metadata

GROUP = "risk"


class AsOf(dg.Config):
    as_of: str = ""  # last day of history (YYYY-MM-DD); empty = yesterday (UTC), the last complete day


def _as_of(config: AsOf) -> dt.date:
    return dt.date.fromisoformat(config.as_of) if config.as_of else utcnow().date() - dt.timedelta(days=1)


def training_config(s: StateSettings) -> TrainingConfig:
    return TrainingConfig(
        horizon_days=s.risk_horizon_days,
        idle_days=s.idle_after_days,
        window_days=s.risk_window_days,
        eval_days=s.risk_eval_days,
        precision_target=s.risk_precision_target,
        promotion_tolerance=s.risk_promotion_tolerance,
    )


def _numbers(prefix: str, metrics: dict | None) -> dict:
    keys = ("roc_auc", "average_precision", "brier", "precision", "recall", "median_lead_days")
    return {f"{prefix}{k}": rounded(metrics.get(k)) for k in keys if metrics and metrics.get(k) is not None}


@dg.asset(
    deps=["events"],
    description="The nightly drop-out risk model: trained on a rolling window of labelled days, calibrated, "
    "evaluated on the most recent fully labelled days (time split) beside the scenario rules, stored "
    "with a version in risk_models; promoted unless it measures worse than the promoted model.",
    owners=OWNERS,
    kinds={"sql", "scikitlearn"},
    group_name=GROUP,
    metadata=table_metadata("risk_models"),
    automation_condition=AFTER_NEW_ANSWERS,
    freshness_policy=RISK,
)
def risk_model(
    context: dg.AssetExecutionContext, config: AsOf, warehouse: WarehouseResource, state: StateResource
) -> dg.MaterializeResult:
    s = state.settings()
    try:
        record = train_nightly(
            warehouse.get(),
            training_config(s),
            load_rules(s.scenarios_file or None),
            _as_of(config),
            utcnow(),
            context.run.run_id,
        )
    except TooLittleHistory as exc:  # a young platform: no model yet, the rules keep deciding
        context.log.warning("no risk model trained: %s", exc)
        return dg.MaterializeResult(metadata={"trained": False, "problem": str(exc)})
    context.log.info("risk model version %s: %s", record.version, record.decision)
    return dg.MaterializeResult(
        metadata={
            "version": record.version,
            "promoted": record.promoted,
            "decision": record.decision,
            "threshold": rounded(record.metrics.get("threshold")),
            **_numbers("model_", record.metrics),
            **_numbers("rules_", record.rules_metrics),
            "test_days": " .. ".join(record.split["test"]),
        }
    )


@dg.asset_check(
    asset=risk_model,
    description="The latest model was promoted: it measures no worse (AP, ROC AUC) than the promoted model "
    "on the same held-out days; a worse one stays unpromoted and the previous model keeps scoring.",
)
def risk_model_not_worse(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    latest = latest_model_record(warehouse.get())
    if latest is None:
        return dg.AssetCheckResult(passed=False, metadata={"problem": "no risk model trained yet"})
    return dg.AssetCheckResult(
        passed=bool(latest["promoted"]),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "version": int(latest["version"]),
            "decision": latest["decision"],
            **_numbers("candidate_", latest["metrics"]),
            **_numbers("promoted_", latest.get("incumbent_metrics")),
        },
    )


@dg.asset(
    deps=[risk_model, "events"],
    description="Per active student, as of the last complete day: calibrated drop-out probability, the alert "
    "flag at the promoted model's threshold and the top contributing features (what puts a student in "
    "at_risk).",
    owners=OWNERS,
    kinds={"sql", "pandas"},
    group_name=GROUP,
    metadata=table_metadata("student_risk"),
    automation_condition=AFTER_NEW_ANSWERS,
    freshness_policy=RISK,
)
def student_risk(config: AsOf, warehouse: WarehouseResource, state: StateResource) -> dg.MaterializeResult:
    result = score(warehouse.get(), _as_of(config), utcnow(), state.settings().idle_after_days)
    return dg.MaterializeResult(metadata={"dagster/row_count": result["scored"], **result})


@dg.asset_check(asset=student_risk, description="Every stored probability of the latest day lies in [0, 1].")
def student_risk_probabilities_valid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from ..risk.store import invalid_probabilities

    bad = invalid_probabilities(warehouse.get())
    return dg.AssetCheckResult(passed=bad == 0, metadata={"offending_rows": bad})


risk_job = dg.define_asset_job(
    "risk_job",
    selection=dg.AssetSelection.assets(risk_model, student_risk),
    description="Train (and promote or not) the drop-out risk model, then score every active student.",
    tags={**k8s_tags("medium"), "alt42/domain": "risk"},
)
