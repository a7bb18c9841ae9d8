"""IRT: nightly anchored calibration and daily re-scoring (replaces calibrate-irt /
mirt-calibrate and the R plumber service; the service stays an optional backend)."""

import datetime as dt
import os
import uuid

import dagster as dg
import pandas as pd

from .. import settings as app_settings
from ..calibration import health
from ..calibration.pipeline import (
    CalibrationSettings,
    calibrate_and_link,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from ..calibration.remote import IrtServiceClient
from ..reports import plots
from ..warehouse import utcnow
from .common import OWNERS, preview
from .ingest import events, questions
from .pod_sizes import k8s_tags
from .resources import WarehouseResource

GROUP = "irt"
ITEMS, META, ABILITY = dg.AssetKey("mirt_item_params"), dg.AssetKey("mirt_fit_meta"), dg.AssetKey("mirt_ability")


class IrtServiceResource(dg.ConfigurableResource):
    """Which backend calibrates (``ALT42_IRT_BACKEND``) and where the remote service is."""

    backend: str = "builtin"
    base_url: str = ""
    token: str = ""
    timeout_s: float = 300.0

    def client(self) -> IrtServiceClient | None:
        if self.backend == "builtin":
            return None
        return IrtServiceClient(self.base_url, self.token or None, timeout=self.timeout_s)


class CalibrationConfig(dg.Config):
    """Run configuration (defaults from the environment, see the README)."""

    model: str = "2pl"
    window_days: int = 90
    min_item_responses: int = 30
    linking_method: str = "stocking-lord"
    score_method: str = "eap"
    as_of: str = ""  # last day of the window (YYYY-MM-DD); empty = today (UTC)

    def last_day(self, now: dt.datetime) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else now.date()


def _settings(config: CalibrationConfig, backend: str) -> CalibrationSettings:
    return CalibrationSettings(
        model=config.model, window_days=config.window_days, min_item_responses=config.min_item_responses,
        linking_method=config.linking_method, score_method=config.score_method, backend=backend,
    )


def _check(name, asset, passed, severity=dg.AssetCheckSeverity.WARN, **metadata):
    return dg.AssetCheckResult(check_name=name, asset_key=asset, passed=bool(passed), severity=severity, metadata=metadata)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(ITEMS, deps=[events, questions], group_name=GROUP, owners=OWNERS, kinds={"python", "sql"},
                     description="Item parameters (a, d, b, c, standard errors, n) per calibration on the anchor "
                     "scale; history kept, is_current marks the latest calibration."),
        dg.AssetSpec(META, deps=[events, questions], group_name=GROUP, owners=OWNERS, kinds={"python", "sql"},
                     description="One row per calibration: model_spec JSON with model, quadrature, window, "
                     "counts, convergence, fit (loglik/AIC/BIC) and linking_constants."),
        dg.AssetSpec(ABILITY, deps=[events, questions], group_name=GROUP, owners=OWNERS, kinds={"python", "sql"},
                     description="Current ability (theta, se) per student on the anchor scale; re-scored daily "
                     "with the current item parameters between calibrations."),
    ],
    check_specs=[
        dg.AssetCheckSpec("calibration_converged", asset=META),
        dg.AssetCheckSpec("item_parameter_bounds", asset=ITEMS, description=f"a in {health.A_RANGE}, |b| <= {health.B_LIMIT}"),
        dg.AssetCheckSpec("anchor_drift", asset=ITEMS, description=f"linked anchors within |Δb| <= {health.DRIFT_B}, |log a ratio| <= {health.DRIFT_LOG_A}"),
        dg.AssetCheckSpec("item_coverage", asset=ITEMS, description=f"at least {health.MIN_COVERAGE:.0%} of the answered items calibrated"),
        dg.AssetCheckSpec("ability_se", asset=ABILITY, description=f"median ability SE <= {health.MAX_MEDIAN_SE}"),
    ],
    can_subset=True,
    name="irt_calibration",
)
def irt_calibration(context: dg.AssetExecutionContext, config: CalibrationConfig, warehouse: WarehouseResource, irt_service: IrtServiceResource):
    wh = warehouse.get()
    now = utcnow()
    s = _settings(config, irt_service.backend)
    selected = context.selected_asset_keys
    if selected == {ABILITY}:
        yield from _rescore(context, wh, s, now, config.last_day(now))
        return
    if not {ITEMS, META} <= selected:
        raise dg.Failure("mirt_item_params and mirt_fit_meta are calibrated together; select both (or mirt_ability alone to re-score)")

    last = config.last_day(now)
    first = last - dt.timedelta(days=s.window_days - 1)
    responses = load_responses(wh, first, last)
    anchors = load_anchors(wh)
    context.log.info("calibrating %s responses of %s students on %s items (%s anchors with reference parameters)",
                     len(responses), responses["user_id"].nunique(), responses["item_id"].nunique(), len(anchors))
    client = irt_service.client()
    try:
        outcome = calibrate_and_link(responses, anchors, s, client)
    finally:
        if client is not None:
            client.close()
    calibration_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    write_calibration(wh, outcome, s, (first, last), calibration_id, context.run_id, now)
    if outcome.fallback_reason:
        context.log.warning("remote IRT service failed, the built-in engine calibrated: %s", outcome.fallback_reason)
    context.log.info("calibration %s written: %s items, %s students, linking %s", calibration_id, len(outcome.items), len(outcome.abilities), outcome.linking)

    items, abilities = outcome.items, outcome.abilities
    drift = health.anchor_drift(items, outcome.anchors)
    bounds = health.out_of_bounds(items)
    flagged = items.loc[items.index.isin(bounds.index) | items.index.isin(drift.index[drift["drifted"]])]
    summary = items[["a", "b"]].describe().T.round(3).reset_index(names="parameter")
    common = {"calibration_id": calibration_id}
    yield dg.MaterializeResult(
        asset_key=ITEMS,
        metadata={
            **common,
            "dagster/row_count": len(items),
            "excluded_items": len(outcome.excluded),
            "excluded": preview(outcome.excluded, 20),
            "parameter_summary": preview(summary),
            "test_information": dg.MetadataValue.md(plots.markdown_image(plots.test_information(items), "test information")),
            "wright_map": dg.MetadataValue.md(plots.markdown_image(plots.wright_map(items, abilities), "Wright map")),
            "flagged_iccs": dg.MetadataValue.md(
                plots.markdown_image(plots.iccs(flagged, "ICCs of flagged items"), "flagged ICCs") if len(flagged) else "_no flagged items_"
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=META,
        metadata={
            **common,
            "backend": outcome.backend_used,
            "fallback_reason": outcome.fallback_reason or "",
            "linking_constants": outcome.linking,
            "converged": bool(outcome.fit.get("converged")),
            "loglik": float(outcome.fit["loglik"]) if outcome.fit.get("loglik") is not None else 0.0,
            "calibration_seconds": round(outcome.timings.get("calibrate", 0.0), 3),
            "responses": len(responses),
        },
    )
    if ABILITY in selected:
        yield dg.MaterializeResult(
            asset_key=ABILITY,
            metadata={**common, "dagster/row_count": len(abilities), "se": health.se_summary(abilities),
                      "theta_distribution": dg.MetadataValue.md(plots.markdown_image(plots.histogram(abilities["theta"].to_numpy(), "Abilities (reference scale)", "θ"), "abilities"))},
        )

    active = pd.Index(responses["item_id"].unique())
    cov = health.coverage(items.index, active)
    yield _check("calibration_converged", META, outcome.fit.get("converged"), dg.AssetCheckSeverity.ERROR,
                 iterations=outcome.fit.get("iterations") or 0)
    yield _check("item_parameter_bounds", ITEMS, bounds.empty, out_of_bounds=len(bounds), items=preview(bounds.reset_index(), 20))
    yield _check("anchor_drift", ITEMS, not drift["drifted"].any(), anchors=len(drift), drifted=int(drift["drifted"].sum()),
                 table=preview(drift.round(3).reset_index(), 30))
    yield _check("item_coverage", ITEMS, cov >= health.MIN_COVERAGE, coverage=round(cov, 4), active_items=len(active))
    if ABILITY in selected:
        se = health.se_summary(abilities)
        yield _check("ability_se", ABILITY, se.get("median", 0) <= health.MAX_MEDIAN_SE, **se)


def _rescore(context, wh, s: CalibrationSettings, now: dt.datetime, last_day: dt.date):
    result = rescore(wh, s, last_day, None, context.run_id, now)
    context.log.info("re-scored %s students with calibration %s", result.users, result.calibration_id)
    yield dg.MaterializeResult(
        asset_key=ABILITY,
        metadata={"rescored_students": result.users, "calibration_id": result.calibration_id or "", "mode": "rescore"},
    )
    abilities = wh.read("mirt_ability", columns=["se"])
    se = health.se_summary(abilities)
    yield _check("ability_se", ABILITY, se.get("median", 0) <= health.MAX_MEDIAN_SE, **se)


irt_calibration_job = dg.define_asset_job(
    "irt_calibration_job",
    selection=dg.AssetSelection.assets(ITEMS, META, ABILITY),
    description="Full calibration on the window's first answers, linked to the anchors, abilities scored.",
    tags={**k8s_tags("large"), "alt42/serial": "irt", "dagster/max_runtime": "7200"},
)
irt_rescore_job = dg.define_asset_job(
    "irt_rescore_job",
    selection=dg.AssetSelection.assets(ABILITY),
    description="Re-score students with new answers using the current item parameters (no recalibration).",
    tags={**k8s_tags("medium"), "alt42/serial": "irt", "dagster/max_runtime": "3600"},
)

irt_nightly_schedule = dg.ScheduleDefinition(
    name="irt_nightly_schedule", job=irt_calibration_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly full calibration at 03:00 UTC (the default cadence). Stop it and start "
    "irt_weekly_schedule to calibrate weekly instead.",
)
irt_weekly_schedule = dg.ScheduleDefinition(
    name="irt_weekly_schedule", job=irt_calibration_job, cron_schedule="10 3 * * 0", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly full calibration, Sundays 03:10 UTC (off by default; the weekly alternative).",
)
irt_rescore_schedule = dg.ScheduleDefinition(
    name="irt_rescore_schedule", job=irt_rescore_job, cron_schedule="30 4 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily 04:30 UTC: re-score students who answered since the last ability fit.",
)


def irt_service_resource() -> IrtServiceResource:
    extra = app_settings.irt_settings()
    token = dg.EnvVar("ALT42_IRT_SERVICE_TOKEN") if os.environ.get("ALT42_IRT_SERVICE_TOKEN") else ""
    return IrtServiceResource(backend=extra["backend"], base_url=extra["url"], token=token, timeout_s=extra["timeout_s"])


defs = dg.Definitions(
    assets=[irt_calibration],
    jobs=[irt_calibration_job, irt_rescore_job],
    schedules=[irt_nightly_schedule, irt_weekly_schedule, irt_rescore_schedule],
    resources={"irt_service": irt_service_resource()},
)
