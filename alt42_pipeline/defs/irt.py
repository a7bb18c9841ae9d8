"""IRT: nightly anchored calibration and re-scoring after new answers (replaces
calibrate-irt / mirt-calibrate and the R plumber service; the service stays an optional
backend).

Every asset and check here runs alone, or is not offered alone:

``irt_calibration`` (``mirt_item_params`` + ``mirt_fit_meta``)
    One calibration writes both tables in one transaction, so the two are one
    non-subsettable multi-asset: the UI materializes them together. The calibration also
    scores every student (the domain writes ``mirt_ability`` in the same transaction); the
    calibration job then materializes ``mirt_ability``, which finds nothing new to score and
    reports the table as the calibration left it.
``calibration_health``
    The calibration's checks, one step reading the current calibration from the warehouse;
    any of them runs alone.
``mirt_ability``
    Re-scores the students with answers since their last score, with the current item
    parameters; its check (``ability_se``) runs in its step, or alone.
"""

import datetime as dt
import uuid

import dagster as dg

from ..calibration import (
    CalibrationSettings,
    anchor_drift_table,
    calibrate_and_link,
    current_calibration,
    current_items,
    health,
    item_fit_table,
    kept_out,
    load_anchors,
    load_responses,
    rescore,
    write_calibration,
)
from ..clock import utcnow
from ..irt.drift import MIN_SHIFT
from .automation import AFTER_NEW_ANSWERS
from .freshness import ABILITIES, CALIBRATION
from .resources import IrtResource, WarehouseResource
from .shared import (
    SERIAL_TAG,
    asset_spec,
    k8s_tags,
    materializing,
    preview,
    rounded,
    selected,
    verdict_check,
)

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


class ScoringConfig(dg.Config):
    """Run configuration of a re-score: the answers window and the scoring method."""

    window_days: int = CalibrationSettings().window_days
    score_method: str = CalibrationSettings().score_method
    as_of: str = ""  # last day of the window (YYYY-MM-DD); empty = today (UTC)

    def settings(self) -> CalibrationSettings:
        return CalibrationSettings(window_days=self.window_days, score_method=self.score_method)


def _plots():
    from ..reports import plots  # matplotlib: imported by the runs that draw, not by the code location

    return plots


@dg.multi_asset(
    specs=[
        asset_spec(
            ITEMS,
            table="mirt_item_params",
            deps=UPSTREAM,
            group_name=GROUP,
            kinds={"python", "sql"},
            description="Item parameters (a, d, b, c, standard errors, n) per calibration on the anchor "
            "scale; history kept, is_current marks the latest calibration.",
            freshness_policy=CALIBRATION,
        ),
        asset_spec(
            META,
            table="mirt_fit_meta",
            deps=UPSTREAM,
            group_name=GROUP,
            kinds={"python", "sql"},
            description="One row per calibration: model_spec JSON with model, quadrature, window, "
            "counts, convergence, fit (loglik/AIC/BIC) and linking_constants.",
            freshness_policy=CALIBRATION,
        ),
    ],
    can_subset=False,
    name="irt_calibration",
    description="One full calibration on the window's first answers, linked to the anchors; it also "
    "scores every student of the window (mirt_ability).",
)
def irt_calibration(
    context: dg.AssetExecutionContext, config: CalibrationConfig, warehouse: WarehouseResource, irt: IrtResource
):
    wh = warehouse.get()
    now = utcnow()
    s = config.settings()
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
    previous, previous_linking = current_items(wh)
    outcome = calibrate_and_link(
        responses,
        anchors,
        s,
        irt.settings(),
        irt.client(),
        kept_out=kept_out(wh),
        previous=previous,
        previous_linking=previous_linking,
    )
    calibration_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    write_calibration(wh, outcome, s, (first, last), calibration_id, context.run.run_id, now)
    if outcome.fallback_reason:
        context.log.warning("remote IRT service failed, the built-in engine calibrated: %s", outcome.fallback_reason)
    context.log.info(
        "calibration %s written: %s items, %s students, linking %s",
        calibration_id,
        len(outcome.items),
        len(outcome.abilities),
        outcome.linking,
    )

    plots = _plots()
    items, abilities = outcome.items, outcome.abilities
    flagged = health.flagged_items(items, outcome.anchors)
    summary = items[["a", "b"]].describe().T.reset_index(names="parameter")
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
            "anchor_drift": preview(anchor_drift_table(outcome), 30),
            "parameter_drift": preview(outcome.drift.head(20).round(3).reset_index(names="item_id"), 20),
            "item_fit": preview(item_fit_table(outcome), 20),
            "item_fit_summary": outcome.fit_summary(),
            "flagged_iccs": dg.MetadataValue.md(
                plots.markdown_image(plots.iccs(flagged, "ICCs of flagged items"), "flagged ICCs")
                if len(flagged)
                else "_no flagged items_"
            ),
            **_partial_credit_metadata(plots, outcome, flagged),
        },
    )
    yield dg.MaterializeResult(
        asset_key=META,
        metadata={
            **common,
            "dagster/row_count": wh.count("mirt_fit_meta"),
            "backend": outcome.backend_used,
            "fallback_reason": outcome.fallback_reason or "",
            "linking_constants": {k: rounded(v) if isinstance(v, float) else v for k, v in outcome.linking.items()},
            "drift": outcome.drift_summary(),
            "converged": bool(outcome.fit.get("converged")),
            "loglik": rounded(outcome.fit.get("loglik")),
            "calibration_seconds": rounded(outcome.timings.get("calibrate", 0.0), 3),
            "responses": len(responses),
            "students_scored": len(abilities),
        },
    )


def _partial_credit_metadata(plots, outcome, flagged) -> dict:
    """Partial-credit items: the categories rule's record and the flagged ones' category curves."""
    cats = outcome.categories
    if cats is None:
        return {}
    poly = plots.polytomous_items(flagged)
    table = cats.reset_index()[["item_id", "n_categories", "counts", "collapsed"]].astype({"counts": str})
    return {
        "partial_credit_items": int((cats["n_categories"] > 2).sum()),
        "categories": preview(table[table["n_categories"] > 2], 20),
        "flagged_category_curves": dg.MetadataValue.md(
            plots.markdown_image(plots.category_curves(poly, "Flagged partial-credit items"), "category curves")
            if len(poly)
            else "_no flagged partial-credit items_"
        ),
    }


_CALIBRATION_CHECKS = [
    dg.AssetCheckSpec(
        "calibration_converged",
        asset=META,
        description="The current calibration's EM converged (iterations in the metadata).",
    ),
    dg.AssetCheckSpec(
        "item_parameter_bounds",
        asset=ITEMS,
        description=f"Current items have a in {health.A_RANGE} and |b| <= {health.B_LIMIT}.",
    ),
    dg.AssetCheckSpec(
        "anchor_drift",
        asset=ITEMS,
        description="No anchor drifts from its reference parameters: a Wald test on the linked difficulty and "
        "slope with the estimates' and linking constants' SEs, and a shift of at least "
        f"{MIN_SHIFT} logits (calibrations written before: |Δb| <= {health.DRIFT_B}, "
        f"|log a ratio| <= {health.DRIFT_LOG_A}).",
    ),
    dg.AssetCheckSpec(
        "anchor_review",
        asset=META,
        description="No anchor found drifting waits for review (alt42 anchors list); the linking constants "
        "and their SEs are in the metadata.",
    ),
    dg.AssetCheckSpec(
        "item_fit_rmsd",
        asset=ITEMS,
        description=f"No item with at least {health.RMSD_MIN_RESPONSES} answers has an RMSD above "
        f"{health.RMSD_LIMIT} (sparse item fit; infit/outfit in the metadata).",
    ),
    dg.AssetCheckSpec(
        "parameter_drift",
        asset=ITEMS,
        description="No non-anchor item's difficulty moved significantly (and by at least "
        f"{health.PARAMETER_SHIFT} logits) since the previous calibration.",
    ),
    dg.AssetCheckSpec(
        "item_coverage",
        asset=ITEMS,
        description=f"At least {health.MIN_COVERAGE:.0%} of the items answered in the window got parameters.",
    ),
]


@dg.multi_asset_check(
    specs=_CALIBRATION_CHECKS,
    can_subset=True,
    name="calibration_health",
    description="Health of the current calibration, read from the warehouse.",
)
def calibration_health(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    cal = current_calibration(wh)
    if cal is None:
        results = [
            dg.AssetCheckResult(
                asset_key=spec.asset_key, check_name=spec.name, passed=False, metadata={"problem": "no calibration yet"}
            )
            for spec in _CALIBRATION_CHECKS
        ]
    else:
        verdicts = health.calibration_verdicts(
            cal.items,
            load_anchors(wh),
            cal.spec.get("converged"),
            cal.spec.get("iterations"),
            cal.active_items,
            spec=cal.spec,
            pending_review=kept_out(wh),
        )
        results = [verdict_check(v) for v in verdicts]
    yield from selected(context, results)


@dg.multi_asset(
    specs=[
        asset_spec(
            ABILITY,
            table="mirt_ability",
            deps=[ITEMS, "events"],
            group_name=GROUP,
            kinds={"python", "sql"},
            description="Current ability (theta, se) per student on the anchor scale: scored by each "
            "calibration, re-scored after new answers with the current item parameters.",
            freshness_policy=ABILITIES,
            automation_condition=AFTER_NEW_ANSWERS,
            skippable=True,
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "ability_se",
            asset=ABILITY,
            description=f"The median standard error of the abilities is at most {health.MAX_MEDIAN_SE}.",
        )
    ],
    can_subset=True,
)
def mirt_ability(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: WarehouseResource):
    wh = warehouse.get()
    if materializing(context):
        now = utcnow()
        last_day = dt.date.fromisoformat(config.as_of) if config.as_of else now.date()
        if current_items(wh)[1] is None:
            context.log.warning("no calibration yet: nothing to score abilities with (run irt_calibration_job)")
            return
        result = rescore(wh, config.settings(), last_day, None, context.run.run_id, now)
        context.log.info("re-scored %s students with calibration %s", result.users, result.calibration_id)
        abilities = wh.read("mirt_ability", columns=["theta", "se", "calibration_id"])
        plots = _plots()
        theta = plots.histogram(abilities["theta"].to_numpy(), "Abilities (reference scale)", "θ")
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(abilities),
                "rescored_students": result.users,
                "calibration_id": result.calibration_id or "",
                "se": {k: rounded(v) if isinstance(v, float) else v for k, v in health.se_summary(abilities).items()},
                "theta_distribution": dg.MetadataValue.md(plots.markdown_image(theta, "abilities")),
            }
        )
    yield from selected(context, [verdict_check(health.ability_verdict(wh.read("mirt_ability", columns=["se"])))])


irt_calibration_job = dg.define_asset_job(
    "irt_calibration_job",
    selection=dg.AssetSelection.assets(ITEMS, META, ABILITY),
    description="Full calibration on the window's first answers, linked to the anchors, abilities scored.",
    tags={**k8s_tags("large"), SERIAL_TAG: "irt", "dagster/max_runtime": "7200"},
)
irt_rescore_job = dg.define_asset_job(
    "irt_rescore_job",
    selection=dg.AssetSelection.assets(ABILITY),
    description="Re-score students with new answers using the current item parameters (no recalibration); "
    "the automation does it after every update of events.",
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
