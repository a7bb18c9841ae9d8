import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.state import machine
from alt42_pipeline.state.machine import ACTIVE, AT_RISK, IDLE, INACTIVE, Thresholds

T = Thresholds(idle_days=7, inactive_days=30)


def test_time_without_activity_decides_before_risk():
    days = np.array([0.5, 6.99, 7.0, 29.9, 30.0, 400.0, 1.0])
    risk = np.array([False, False, True, True, True, False, True])
    assert list(machine.classify(days, risk, T)) == [ACTIVE, ACTIVE, IDLE, IDLE, INACTIVE, INACTIVE, AT_RISK]


def test_thresholds_are_configurable():
    days = np.array([3.0, 10.0])
    assert list(machine.classify(days, np.zeros(2, bool), Thresholds(2, 10))) == [IDLE, INACTIVE]


@pytest.mark.parametrize("idle,inactive", [(0, 30), (30, 30), (31, 30)])
def test_inconsistent_thresholds_are_refused(idle, inactive):
    with pytest.raises(ValueError, match="idle_days < inactive_days"):
        Thresholds(idle, inactive)


def test_changed_counts_a_first_state_as_a_change():
    prev = np.array([None, ACTIVE, IDLE, AT_RISK], dtype=object)
    now = np.array([ACTIVE, ACTIVE, ACTIVE, IDLE], dtype=object)
    assert list(machine.changed(prev, now)) == [True, False, True, True]


def test_time_based_states_are_entered_at_the_crossing_not_when_noticed():
    now = dt.datetime(2026, 3, 10, 12)
    last = pd.Series(pd.to_datetime(["2026-03-01 08:00", "2026-01-01 00:00", "2026-03-10 11:00"]))
    states = np.array([IDLE, INACTIVE, AT_RISK], dtype=object)
    got = machine.entered_at(states, last, now, T)
    assert list(got) == [pd.Timestamp("2026-03-08 08:00"), pd.Timestamp("2026-01-31 00:00"), pd.Timestamp(now)]


@pytest.mark.parametrize(
    "prev,cur,days,scenarios,expected",
    [
        (ACTIVE, IDLE, 8.2, [], "no activity for 8 days (idle after 7)"),
        (IDLE, INACTIVE, 31.0, [], "no activity for 31 days (inactive after 30)"),
        (INACTIVE, ACTIVE, 0.1, [], "activity resumed"),
        (ACTIVE, AT_RISK, 0.1, ["struggling", "fading"], "at-risk scenarios fired: struggling, fading"),
        (AT_RISK, ACTIVE, 0.1, [], "no at-risk scenario fires any more"),
        (None, ACTIVE, 0.1, [], "first seen: active"),
        (None, INACTIVE, 45.0, [], "first seen: no activity for 45 days (inactive after 30)"),
    ],
)
def test_every_transition_says_why(prev, cur, days, scenarios, expected):
    assert machine.reason(prev, cur, days, scenarios, T) == expected
