"""IRT: nightly anchored calibration and daily re-scoring (replaces calibrate-irt /
mirt-calibrate and the R plumber service; the service stays an optional backend)."""

import datetime as dt
import uuid

import dagster as dg
import pandas as pd

from ..calibration import (
    CalibrationSettings,
    calibrate_and_link,
    health,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from ..clock import utcnow
from ..reports import plots
from .resources import IrtResource, WarehouseResource
from .shared import OWNERS, SERIAL_TAG, k8s_tags, preview, verdict_check

GROUP = "irt"
ITEMS, META, ABILITY = dg.AssetKey("mirt_item_params"), dg.AssetKey("mirt_fit_meta"), dg.AssetKey("mirt_ability")
UPSTREAM = ["events", "questions"]


class CalibrationConfig(dg.Config, CalibrationSettings):
    """Run configuration: how to calibrate (defaults: the nightly calibration), and the last
    day of the window."""

    as_of: str = ""  # last day of the window (YYYY-MM-DD); empty = today (UTC)

    def last_day(self, now: dt.datetime) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else now.date()

    def settings(self) -> CalibrationSettings:
        return CalibrationSettings.model_validate(self.model_dump(exclude={"as_of"}))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ITEMS,
            deps=UPSTREAM,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"python", "sql"},
            description="Item parameters (a, d, b, c, standard errors, n) per calibration on the anchor "
            "scale; history kept, is_current marks the latest calibration.",
        ),
        dg.AssetSpec(
            META,
            deps=UPSTREAM,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"python", "sql"},
            description="One row per calibration: model_spec JSON with model, quadrature, window, "
            "counts, convergence, fit (loglik/AIC/BIC) and linking_constants.",
        ),
        dg.AssetSpec(
            ABILITY,
            deps=UPSTREAM,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"python", "sql"},
            description="Current ability (theta, se) per student on the anchor scale; re-scored daily "
            "with the current item parameters between calibrations.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec("calibration_converged", asset=META),
        dg.AssetCheckSpec(
            "item_parameter_bounds", asset=ITEMS, description=f"a in {health.A_RANGE}, |b| <= {health.B_LIMIT}"
        ),
        dg.AssetCheckSpec(
            "anchor_drift",
            asset=ITEMS,
            description=f"linked anchors within |Δb| <= {health.DRIFT_B}, |log a ratio| <= {health.DRIFT_LOG_A}",
        ),
        dg.AssetCheckSpec(
            "item_coverage",
            asset=ITEMS,
            description=f"at least {health.MIN_COVERAGE:.0%} of the answered items calibrated",
        ),
        dg.AssetCheckSpec("ability_se", asset=ABILITY, description=f"median ability SE <= {health.MAX_MEDIAN_SE}"),
    ],
    can_subset=True,
    name="irt_calibration",
)
def irt_calibration(
    context: dg.AssetExecutionContext, config: CalibrationConfig, warehouse: WarehouseResource, irt: IrtResource
):
    wh = warehouse.get()
    now = utcnow()
    s = config.settings()
    selected = context.selected_asset_keys
    if selected == {ABILITY}:
        yield from _rescore(context, wh, s, now, config.last_day(now))
        return
    if not {ITEMS, META} <= selected:
        raise dg.Failure(
            "mirt_item_params and mirt_fit_meta are calibrated together; select both (or mirt_ability alone to re-score)"
        )

    last = config.last_day(now)
    first = last - dt.timedelta(days=s.window_days - 1)
    responses = load_responses(wh, first, last)
    anchors = load_anchors(wh)
    context.log.info(
        "calibrating %s responses of %s students on %s items (%s anchors with reference parameters)",
        len(responses),
        responses["user_id"].nunique(),
        responses["item_id"].nunique(),
        len(anchors),
    )
    outcome = calibrate_and_link(responses, anchors, s, irt.settings(), irt.client())
    calibration_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    write_calibration(wh, outcome, s, (first, last), calibration_id, context.run_id, now)
    if outcome.fallback_reason:
        context.log.warning("remote IRT service failed, the built-in engine calibrated: %s", outcome.fallback_reason)
    context.log.info(
        "calibration %s written: %s items, %s students, linking %s",
        calibration_id,
        len(outcome.items),
        len(outcome.abilities),
        outcome.linking,
    )

    items, abilities = outcome.items, outcome.abilities
    flagged = health.flagged_items(items, outcome.anchors)
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
            "test_information": dg.MetadataValue.md(
                plots.markdown_image(plots.test_information(items), "test information")
            ),
            "wright_map": dg.MetadataValue.md(plots.markdown_image(plots.wright_map(items, abilities), "Wright map")),
            "flagged_iccs": dg.MetadataValue.md(
                plots.markdown_image(plots.iccs(flagged, "ICCs of flagged items"), "flagged ICCs")
                if len(flagged)
                else "_no flagged items_"
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
            metadata={
                **common,
                "dagster/row_count": len(abilities),
                "se": health.se_summary(abilities),
                "theta_distribution": dg.MetadataValue.md(
                    plots.markdown_image(
                        plots.histogram(abilities["theta"].to_numpy(), "Abilities (reference scale)", "θ"), "abilities"
                    )
                ),
            },
        )

    active = pd.Index(responses["item_id"].unique())
    for verdict in health.calibration_verdicts(
        items, outcome.anchors, outcome.fit.get("converged"), outcome.fit.get("iterations"), active
    ):
        yield verdict_check(verdict)
    if ABILITY in selected:
        yield verdict_check(health.ability_verdict(abilities))


def _rescore(context, wh, s: CalibrationSettings, now: dt.datetime, last_day: dt.date):
    result = rescore(wh, s, last_day, None, context.run_id, now)
    context.log.info("re-scored %s students with calibration %s", result.users, result.calibration_id)
    yield dg.MaterializeResult(
        asset_key=ABILITY,
        metadata={"rescored_students": result.users, "calibration_id": result.calibration_id or "", "mode": "rescore"},
    )
    yield verdict_check(health.ability_verdict(wh.read("mirt_ability", columns=["se"])))


irt_calibration_job = dg.define_asset_job(
    "irt_calibration_job",
    selection=dg.AssetSelection.assets(ITEMS, META, ABILITY),
    description="Full calibration on the window's first answers, linked to the anchors, abilities scored.",
    tags={**k8s_tags("large"), SERIAL_TAG: "irt", "dagster/max_runtime": "7200"},
)
irt_rescore_job = dg.define_asset_job(
    "irt_rescore_job",
    selection=dg.AssetSelection.assets(ABILITY),
    description="Re-score students with new answers using the current item parameters (no recalibration).",
    tags={**k8s_tags("medium"), SERIAL_TAG: "irt", "dagster/max_runtime": "3600"},
)

irt_nightly_schedule = dg.ScheduleDefinition(
    name="irt_nightly_schedule",
    job=irt_calibration_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly full calibration at 03:00 UTC (the default cadence). Stop it and start "
    "irt_weekly_schedule to calibrate weekly instead.",
)
irt_weekly_schedule = dg.ScheduleDefinition(
    name="irt_weekly_schedule",
    job=irt_calibration_job,
    cron_schedule="10 3 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly full calibration, Sundays 03:10 UTC (off by default; the weekly alternative).",
)
irt_rescore_schedule = dg.ScheduleDefinition(
    name="irt_rescore_schedule",
    job=irt_rescore_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily 04:30 UTC: re-score students who answered since the last ability fit.",
)
