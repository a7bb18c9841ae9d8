"""Labels from history and features as of day t (no look-ahead)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.risk import FEATURES, build_grid, feature_cube, labels, population
from alt42_pipeline.risk.daily import DAILY_COLUMNS, TOPIC_COLUMNS, leaves_within

D0 = dt.date(2026, 3, 2)


def _daily(rows):
    """rows: (user, day index, events, answers, correct)."""
    return pd.DataFrame(
        [
            {
                "user_id": u,
                "date": D0 + dt.timedelta(days=d),
                "events": e,
                "sessions": 1,
                "answers": a,
                "correct": c,
                "answer_time_s": 30.0 * a,
            }
            for u, d, e, a, c in rows
        ],
        columns=DAILY_COLUMNS,
    )


NO_TOPICS = pd.DataFrame(columns=TOPIC_COLUMNS)


def test_label_is_no_activity_in_the_next_h_days_and_only_for_passed_horizons():
    # user 1 active on days 0, 3 and 20; user 2 every day 0..29
    daily = _daily([(1, 0, 5, 2, 1), (1, 3, 5, 2, 1), (1, 20, 5, 2, 1)] + [(2, d, 3, 1, 1) for d in range(30)])
    g = build_grid(daily, NO_TOPICS, D0, D0 + dt.timedelta(days=29))
    y = labels(g, horizon_days=14)
    u1 = list(g.users).index(1)
    assert y[u1, 0] == 0.0  # day 3 is inside 1..14
    assert y[u1, 3] == 1.0  # 4..17 silent: dropped, although the student comes back on day 20
    assert y[u1, 5] == 1.0  # 6..19 silent
    assert y[u1, 6] == 0.0  # day 20 is inside 7..20
    assert y[u1, 15] == 0.0  # 16..29 include day 20
    assert np.isnan(y[u1, 16])  # horizon 17..30 runs past the last day (29): not labelled
    assert (y[list(g.users).index(2), :16] == 0).all()
    assert np.isnan(y[:, 16:]).all()


def test_label_marks_a_silence_of_h_days_as_dropped():
    daily = _daily([(1, 0, 5, 2, 1), (1, 20, 5, 2, 1)])
    g = build_grid(daily, NO_TOPICS, D0, D0 + dt.timedelta(days=40))
    y = labels(g, horizon_days=14)
    assert y[0, 0] == 1.0  # days 1..14 silent
    assert y[0, 5] == 1.0  # days 6..19 silent
    assert y[0, 6] == 0.0  # day 20 inside 7..20
    assert y[0, 20] == 1.0
    assert np.isnan(y[0, 27])


def test_population_is_students_seen_and_not_yet_idle():
    daily = _daily([(1, 2, 5, 2, 1)])
    g = build_grid(daily, NO_TOPICS, D0, D0 + dt.timedelta(days=20))
    pop = population(g, idle_days=7)[0]
    assert not pop[:2].any() and pop[2:9].all() and not pop[9:].any()


def _random_daily(rng, users=40, days=50):
    rows = []
    for u in range(1, users + 1):
        for d in range(days):
            if rng.random() < 0.5:
                a = int(rng.integers(0, 15))
                rows.append((u, d, int(rng.integers(1, 30)), a, int(rng.integers(0, a + 1))))
    return _daily(rows)


def _topics(rng, users=40, days=50):
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(1, users + 1), 3),
            "topic_id": [f"t{k}" for k in range(3)] * users,
            "first_date": [D0 + dt.timedelta(days=int(x)) for x in rng.integers(0, days, 3 * users)],
        }
    )


@pytest.mark.parametrize("t", [0, 9, 27, 48])
def test_no_feature_reads_data_after_day_t(t):
    """Perturb every row after day t (change, add, delete); the features at t stay the same."""
    rng = np.random.default_rng(t)
    daily, topics = _random_daily(rng), _topics(rng)
    last = D0 + dt.timedelta(days=49)
    before = feature_cube(build_grid(daily, topics, D0, last))

    cut = D0 + dt.timedelta(days=t)
    later = pd.to_datetime(daily["date"]).dt.date > cut
    changed = daily.copy()
    changed.loc[later, ["events", "answers", "correct", "sessions"]] = rng.integers(0, 50, (int(later.sum()), 4))
    changed = changed.drop(changed[later].sample(frac=0.3, random_state=1).index)
    extra = _daily([(u, d, 7, 3, 0) for u in (1, 2, 99) for d in range(t + 1, 50)])  # 99: a new student
    changed = pd.concat([changed, extra]).groupby(["user_id", "date"], as_index=False).sum()
    moved = topics.assign(first_date=[d if d <= cut else last for d in topics["first_date"]])
    after_grid = build_grid(changed, moved, D0, last)
    after = feature_cube(after_grid)

    keep = np.isin(after_grid.users, build_grid(daily, topics, D0, last).users)
    np.testing.assert_array_equal(after[keep, t, :], before[:, t, :])
    assert not np.array_equal(after[keep, -1, :], before[:, -1, :])  # the perturbation is real
    assert before.shape[2] == len(FEATURES)


def test_a_daily_table_without_its_columns_is_refused_by_name():
    with pytest.raises(ValueError, match="lacks columns"):
        build_grid(pd.DataFrame({"user_id": [1]}), NO_TOPICS, D0, D0)


def test_training_target_is_a_drop_out_start_within_the_alert_window():
    """leaves_within(t) = 1 when the last activity before H silent days falls in [t-idle+1, t+H]:
    the days before a leaver's last activity are positives (the label is 0 there)."""
    # user 1: active days 0..9, then silent to the end (day 40): drop-out start on day 9
    # user 2: active every day 0..40
    daily = _daily([(1, d, 5, 2, 1) for d in range(10)] + [(2, d, 3, 1, 1) for d in range(41)])
    g = build_grid(daily, NO_TOPICS, D0, D0 + dt.timedelta(days=40))
    y = leaves_within(g, horizon_days=14, idle_days=7)
    u1, u2 = list(g.users).index(1), list(g.users).index(2)
    assert labels(g, 14)[u1, 5] == 0.0  # the label: still active on day 6..9
    assert (y[u1, 0:16] == 1.0).all()  # day 9 lies in [t-6, t+14] for t = 0 .. 15
    assert y[u1, 16] == 0.0  # [10, 30]: no drop-out start
    assert (y[u2, :26] == 0.0).all()  # a stayer: every start in the window refuted by later activity
    assert np.isnan(y[u2, 26:]).all()  # day 40 (in the window from t = 26) may yet be a drop-out start
    assert np.isnan(y[:, 27:]).all()  # t + H runs past the last day


def test_own_baseline_features_see_a_fall_against_the_students_habit():
    """Two students, same last week (active on 2 of 7 days): the one who was active every day
    before shows a fall against their own three weeks; the one always active 2 days a week
    does not."""
    keen_then_fading = [(1, d, 10, 5, 4) for d in range(21)] + [(1, d, 10, 5, 4) for d in (23, 27)]
    always_light = [(2, d, 10, 5, 4) for d in range(28) if d % 7 in (2, 6)]
    g = build_grid(_daily(keen_then_fading + always_light), NO_TOPICS, D0, D0 + dt.timedelta(days=27))
    cube = feature_cube(g)
    f = {name: cube[:, 27, FEATURES.index(name)] for name in FEATURES}
    u1, u2 = list(g.users).index(1), list(g.users).index(2)
    assert f["active_days_7"][u1] == f["active_days_7"][u2] == 2
    assert f["active_share_vs_own_21"][u1] == pytest.approx(2 / 7 - 1.0)
    assert f["active_share_vs_own_21"][u2] == pytest.approx(0.0, abs=0.05)
    assert f["events_vs_own_21"][u1] < -0.5 < f["events_vs_own_21"][u2]
    assert f["sessions_vs_own_21"][u1] < f["sessions_vs_own_21"][u2]
    # no previous days: the neutral 0
    assert (cube[:, 0, FEATURES.index("active_share_vs_own_21")] == 0).all()


def test_a_stored_model_scores_on_its_own_features_by_name():
    """A model stored before features were added picks its columns by name; a model asking for a
    feature no longer computed is refused by name."""
    from alt42_pipeline.risk.model import RiskModel

    old = RiskModel(["active_days_7", "days_since_activity"], [0.0, 0.0], [1.0, 1.0], [1.0, 2.0], 0.0, -1.0, 0.0)
    assert old.columns(FEATURES) == [FEATURES.index("active_days_7"), FEATURES.index("days_since_activity")]
    gone = RiskModel(["tenure_days"], [0.0], [1.0], [1.0], 0.0, -1.0, 0.0)
    with pytest.raises(ValueError, match="tenure_days"):
        gone.columns(FEATURES)
