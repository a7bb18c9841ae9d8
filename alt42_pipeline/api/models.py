"""The JSON the batch management API reads and writes (its OpenAPI schema).

Request models check only types (an hour must be a JSON integer, unknown fields are refused);
the values are checked by the interventions domain, the same validation ``alt42 schedules``
uses, so the API and the CLI accept and refuse exactly the same schedules with the same
messages. The ranges below are documentation for the OpenAPI page, taken from the domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from ..interventions import FREQUENCIES, TARGETS
from ..interventions.schedules import NAME_MAX

_FREQUENCY = {
    "description": "daily, weekly (Sundays) or monthly (the 1st), in the schedule's time zone",
    "json_schema_extra": {"enum": list(FREQUENCIES)},
}
_HOUR = {"description": "0-23, local time of the time zone", "json_schema_extra": {"minimum": 0, "maximum": 23}}
_MINUTE = {"description": "0-59", "json_schema_extra": {"minimum": 0, "maximum": 59}}
_NAME = {"description": f"unique, 1-{NAME_MAX} characters", "json_schema_extra": {"maxLength": NAME_MAX}}
_TIMEZONE = {"description": "an IANA time zone, e.g. UTC or Asia/Seoul"}
_TARGET = {"description": "the batch the schedule starts", "json_schema_extra": {"enum": list(TARGETS)}}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleIn(_Strict):
    """A new schedule (as ``alt42 schedules add``)."""

    name: StrictStr = Field(..., **_NAME, examples=["nightly"])
    frequency: StrictStr = Field(..., **_FREQUENCY, examples=["daily"])
    hour: StrictInt = Field(..., **_HOUR, examples=[9])
    minute: StrictInt = Field(0, **_MINUTE)
    timezone: StrictStr = Field("UTC", **_TIMEZONE, examples=["Asia/Seoul"])
    is_active: StrictBool = True
    target: StrictStr = Field(TARGETS[0], **_TARGET)


class ScheduleChange(_Strict):
    """Fields to change (as ``alt42 schedules update``); on ``PUT /api/batch/schedule/``
    the body also names the schedule by ``id``."""

    id: StrictInt | None = Field(None, description="the schedule (only when the path does not name it)")
    name: StrictStr | None = Field(None, **_NAME)
    frequency: StrictStr | None = Field(None, **_FREQUENCY)
    hour: StrictInt | None = Field(None, **_HOUR)
    minute: StrictInt | None = Field(None, **_MINUTE)
    timezone: StrictStr | None = Field(None, **_TIMEZONE)
    is_active: StrictBool | None = None
    target: StrictStr | None = Field(None, **_TARGET)


class ScheduleRef(_Strict):
    """Names the schedule to delete when the path does not."""

    id: StrictInt


class ScheduleOut(BaseModel):
    id: int
    name: str
    frequency: str
    hour: int
    minute: int
    timezone: str
    is_active: bool
    target: str
    created_at: str | None = Field(None, description="ISO 8601, UTC")
    updated_at: str | None = Field(None, description="ISO 8601, UTC; a change takes effect at the sensor's next tick")
    description: str


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


def _iso_text(value: object) -> object:
    if value is not None and not isinstance(value, str):
        raise ValueError("a date is text: YYYY-MM-DD")
    return value


class RunIn(_Strict):
    date: Annotated[dt.date | None, BeforeValidator(_iso_text)] = Field(
        None, description="the day the batch looks at (YYYY-MM-DD); default yesterday, UTC"
    )


class RunOut(BaseModel):
    run_id: str
    date: str
    status: str = Field(..., description="the run's Dagster status (QUEUED, STARTED, ...)")
    launched: bool = Field(..., description="false: a run of that day was already queued or running, and is this one")
    job: str


class Error(BaseModel):
    detail: str | list[dict]
