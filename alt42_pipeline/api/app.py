"""The batch management HTTP API: the legacy batch's endpoints over the pipeline.

``/api/batch/schedule/`` lists, creates, changes and deletes the schedules of
``batch_schedules`` (the sensor reads them at every tick); ``/api/batch/run/`` runs a day's
batch by hand through the Dagster webserver; ``/api/batch/status/`` shows the latest runs of
each schedule with their counts; ``/api/batch/sync/`` shows what ``db_schedule_sensor`` will do
and whether it is running. Every ``/api/batch`` endpoint needs the bearer token; ``/healthz``
and the documentation (``/api/docs``, ``/api/openapi.json``, which describe the API and hold no
data) do not. Errors are JSON: ``{"detail": "..."}``, or for invalid fields
``{"detail": [{"loc": ["body", "<field>"], "msg": "...", "type": "..."}]}``.

The endpoints are plain functions run in the server's thread pool: they call the same
functions as the command line (``control``, the interventions domain).
"""

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

import dagster as dg
import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from ..clock import now
from ..control import InstanceUnavailable, open_instance
from ..control.batch import (
    BatchDayError,
    GraphQLLauncher,
    Launcher,
    LaunchError,
    batch_day,
    batch_status,
    launch_batch,
    schedule_dict,
    sync,
)
from ..interventions import (
    Schedule,
    ScheduleConflict,
    ScheduleError,
    ScheduleNotFound,
    add_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    update_schedule,
)
from ..settings import Settings, register_secrets
from ..warehouse import Warehouse
from .guard import BodyLimit, RateLimit, bearer_token
from .models import Error, RunIn, RunOut, ScheduleChange, ScheduleIn, ScheduleList, ScheduleOut, ScheduleRef

log = logging.getLogger(__name__)

DOCS = "/api/docs"
#: The OpenAPI page's introduction: the module's first paragraphs, for the API's clients.
DESCRIPTION = __doc__.split("\n\nThe endpoints are plain functions")[0]
ERRORS = {401: {"model": Error, "description": "missing or wrong bearer token"}}


class _Dagster:
    """The Dagster instance, opened on first use (the API serves schedules without one)."""

    def __init__(self, opener: Callable[[], dg.DagsterInstance]) -> None:
        self._opener = opener
        self._instance: dg.DagsterInstance | None = None
        self._lock = threading.Lock()

    def get(self) -> dg.DagsterInstance:
        with self._lock:
            if self._instance is None:
                self._instance = self._opener()
            return self._instance


def create_app(
    s: Settings, *, open_dagster: Callable[[], dg.DagsterInstance] = open_instance, launcher: Launcher | None = None
) -> FastAPI:
    """The application for the settings ``s`` (``open_dagster`` and ``launcher`` replace how
    the Dagster instance is opened and runs are launched)."""
    app = FastAPIOffline(
        title="ALT42 batch management API",
        version="1",
        description=DESCRIPTION,
        docs_url=DOCS,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        static_url=f"{DOCS}/static",
    )
    register_secrets(s)  # the token, like every secret, is masked in any log line
    wh = Warehouse(s.warehouse.url, s.warehouse.table_prefix)
    dagster = _Dagster(open_dagster)
    launch_with = launcher or GraphQLLauncher(s.api.dagster_url)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"], summary="liveness: the server answers (no token needed)")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    router = APIRouter(prefix="/api/batch", dependencies=[Depends(bearer_token(s.api.token))], responses=ERRORS)

    # -- schedules ------------------------------------------------------------------------------

    @router.get("/schedule/", response_model=ScheduleList, tags=["schedules"], summary="every schedule")
    def schedules() -> dict:
        return {"schedules": [schedule_dict(x) for x in list_schedules(wh)]}

    @router.get(
        "/schedule/{schedule_id}/",
        response_model=ScheduleOut,
        tags=["schedules"],
        summary="one schedule",
        responses={404: {"model": Error}},
    )
    def one_schedule(schedule_id: int) -> dict:
        return schedule_dict(get_schedule(wh, schedule_id))

    @router.post(
        "/schedule/",
        response_model=ScheduleOut,
        status_code=201,
        tags=["schedules"],
        summary="create a schedule",
        responses={409: {"model": Error}, 422: {"model": Error}},
    )
    def create_schedule(body: ScheduleIn) -> dict:
        return schedule_dict(add_schedule(wh, Schedule(**body.model_dump())))

    def _update(schedule_id: int, body: ScheduleChange) -> dict:
        changes = body.model_dump(exclude_unset=True, exclude={"id"})
        if not changes:
            raise ScheduleError("nothing to change: give at least one field", {"": "no field to change"})
        return schedule_dict(update_schedule(wh, schedule_id, **changes))

    @router.put(
        "/schedule/{schedule_id}/",
        response_model=ScheduleOut,
        tags=["schedules"],
        summary="change a schedule (only the fields given)",
        responses={404: {"model": Error}, 409: {"model": Error}, 422: {"model": Error}},
    )
    def change_schedule(schedule_id: int, body: ScheduleChange) -> dict:
        return _update(schedule_id, body)

    @router.put(
        "/schedule/",
        response_model=ScheduleOut,
        tags=["schedules"],
        summary="change the schedule the body's id names (the legacy form)",
        responses={404: {"model": Error}, 409: {"model": Error}, 422: {"model": Error}},
    )
    def change_schedule_by_body(body: ScheduleChange) -> dict:
        if body.id is None:
            raise ScheduleError("the body must name the schedule: id", {"id": "id is required"})
        return _update(body.id, body)

    @router.delete(
        "/schedule/{schedule_id}/",
        response_model=ScheduleOut,
        tags=["schedules"],
        summary="delete a schedule; the deleted schedule is returned",
        responses={404: {"model": Error}},
    )
    def remove_schedule(schedule_id: int) -> dict:
        return schedule_dict(delete_schedule(wh, schedule_id))

    @router.delete(
        "/schedule/",
        response_model=ScheduleOut,
        tags=["schedules"],
        summary="delete the schedule named by ?id= or the body's id (the legacy form)",
        responses={404: {"model": Error}, 422: {"model": Error}},
    )
    def remove_schedule_by_ref(
        id: Annotated[int | None, Query()] = None, body: Annotated[ScheduleRef | None, Body()] = None
    ) -> dict:
        ref = id if id is not None else (body.id if body else None)
        if ref is None:
            raise ScheduleError('name the schedule: ?id= or a body {"id": ...}', {"id": "id is required"})
        return schedule_dict(delete_schedule(wh, ref))

    # -- runs -------------------------------------------------------------------------------------

    @router.post(
        "/run/",
        response_model=RunOut,
        status_code=202,
        tags=["runs"],
        summary="run the batch for a day (default yesterday); a run of that day already queued or running is returned",
        responses={
            200: {"model": RunOut, "description": "a run of that day was already queued or running"},
            422: {"model": Error},
            502: {"model": Error, "description": "the Dagster webserver refused the launch"},
            503: {"model": Error, "description": "the Dagster instance or webserver is not available"},
        },
    )
    def run(response: Response, body: Annotated[RunIn | None, Body()] = None) -> dict:
        day = batch_day(body.date if body else None, s.partitions_start)
        result = launch_batch(day, instance=dagster.get(), launcher=launch_with, launched_by="api")
        if not result.launched:
            response.status_code = 200
        log.info("batch run for %s: %s (%s)", day, result.run_id, "launched" if result.launched else "already there")
        return result.as_dict()

    @router.get(
        "/status/",
        tags=["runs"],
        summary="the latest runs of each schedule (and the manual ones) with status and counts",
        responses={503: {"model": Error}},
    )
    def status(limit: Annotated[int, Query(ge=1, le=100, description="runs per schedule")] = 10) -> dict[str, Any]:
        groups = batch_status(dagster.get(), wh, limit)
        return {"checked_at": now().isoformat(), "groups": [g.as_dict() for g in groups]}

    @router.post(
        "/sync/",
        tags=["schedules"],
        summary="what db_schedule_sensor will do with each schedule, and whether it is running",
        responses={503: {"model": Error}},
    )
    def sync_schedules() -> dict[str, Any]:
        return sync(dagster.get(), wh).as_dict()

    app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=s.api.max_body_bytes)
    app.add_middleware(RateLimit, per_minute=s.api.rate_per_minute)
    return app


def _fields(problems: dict[str, str], message: str, kind: str) -> list[dict[str, Any]]:
    if not problems:
        return [{"loc": ["body"], "msg": message, "type": kind}]
    return [{"loc": ["body", f] if f else ["body"], "msg": m, "type": kind} for f, m in problems.items()]


def _install_error_handlers(app: FastAPI) -> None:
    def handler(status: int, detail: Callable[[Exception], Any]):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(status_code=status, content={"detail": detail(exc)})

        return handle

    # pydantic's own errors, without echoing the input back (it can be long, or a secret)
    app.add_exception_handler(
        RequestValidationError,
        handler(
            422,
            lambda e: [{k: err[k] for k in ("loc", "msg", "type") if k in err} for err in e.errors()],
        ),
    )
    app.add_exception_handler(ScheduleNotFound, handler(404, str))
    app.add_exception_handler(ScheduleConflict, handler(409, lambda e: _fields(e.problems, str(e), "conflict")))
    app.add_exception_handler(ScheduleError, handler(422, lambda e: _fields(e.problems, str(e), "value_error")))
    app.add_exception_handler(
        BatchDayError, handler(422, lambda e: [{"loc": ["body", "date"], "msg": str(e), "type": "value_error"}])
    )
    app.add_exception_handler(InstanceUnavailable, handler(503, str))

    async def launch_failed(request: Request, exc: LaunchError) -> JSONResponse:
        return JSONResponse(status_code=503 if exc.unreachable else 502, content={"detail": str(exc)})

    async def warehouse_down(request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        log.error("warehouse error: %s", exc.orig)
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        detail = f"the warehouse does not answer (ALT42_WAREHOUSE_URL): {first}"
        return JSONResponse(status_code=503, content={"detail": detail})

    app.add_exception_handler(LaunchError, launch_failed)
    app.add_exception_handler(sa.exc.OperationalError, warehouse_down)
