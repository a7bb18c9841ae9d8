import pytest

from alt42_pipeline import settings

NAMES = [
    "ALT42_IDLE_AFTER_DAYS",
    "ALT42_INACTIVE_AFTER_DAYS",
    "ALT42_STATE_WINDOW_DAYS",
    "ALT42_STATE_LOOKBACK_DAYS",
    "ALT42_HEARTBEAT_DRY_RUN",
    "ALT42_HEARTBEAT_STALE_MINUTES",
    "ALT42_ALERT_WEBHOOK_URL",
    "ALT42_SCENARIOS_FILE",
]


def load_state():
    """The state settings as the environment has them now."""
    settings.load.cache_clear()
    return settings.load().state


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_documented_ones():
    s = load_state()
    assert (s.idle_after_days, s.inactive_after_days, s.recent_window_days, s.lookback_days) == (7, 30, 7, 35)
    assert (s.heartbeat_dry_run, s.heartbeat_stale_minutes, s.alert_webhook_url, s.scenarios_file) == (
        False,
        60,
        "",
        "",
    )


def test_values_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ALT42_IDLE_AFTER_DAYS", "3")
    monkeypatch.setenv("ALT42_INACTIVE_AFTER_DAYS", "14")
    monkeypatch.setenv("ALT42_HEARTBEAT_DRY_RUN", "yes")
    s = load_state()
    assert (s.idle_after_days, s.inactive_after_days, s.lookback_days, s.heartbeat_dry_run) == (3, 14, 19, True)


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("ALT42_IDLE_AFTER_DAYS", "seven", "ALT42_IDLE_AFTER_DAYS='seven' is not an integer"),
        ("ALT42_STATE_WINDOW_DAYS", "0", "ALT42_STATE_WINDOW_DAYS=0 must be at least 1"),
        ("ALT42_INACTIVE_AFTER_DAYS", "5", "must be greater than ALT42_IDLE_AFTER_DAYS=7"),
        ("ALT42_HEARTBEAT_DRY_RUN", "maybe", "is not a boolean"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        load_state()
