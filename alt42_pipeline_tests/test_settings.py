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


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("ALT42_API_PORT", "70000", "ALT42_API_PORT=70000 must be at most 65535"),
        ("ALT42_API_PORT", "http", "ALT42_API_PORT='http' is not an integer"),
        ("ALT42_API_RATE_PER_MINUTE", "0", "ALT42_API_RATE_PER_MINUTE must be a positive int"),
        ("ALT42_DAGSTER_URL", "dagster:3000", "ALT42_DAGSTER_URL='dagster:3000': .*not an http\\(s\\) URL"),
    ],
)
def test_bad_api_settings_are_refused_naming_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    settings.load.cache_clear()
    with pytest.raises(ValueError, match=message):
        settings.load()


def test_the_api_token_is_a_secret_refused_when_short_without_showing_it(monkeypatch):
    settings.load.cache_clear()
    api = settings.load().api
    assert (api.host, api.port, api.token.get_secret_value(), api.dagster_url) == (
        "127.0.0.1",
        8042,
        "",
        "http://127.0.0.1:3000",
    )
    monkeypatch.setenv("ALT42_API_TOKEN", "hunter2")
    settings.load.cache_clear()
    with pytest.raises(ValueError, match="ALT42_API_TOKEN must be at least 16 characters long, not 7") as info:
        settings.load()
    assert "hunter2" not in str(info.value)
    monkeypatch.setenv("ALT42_API_TOKEN", "a-token-of-32-characters-exactly")
    settings.load.cache_clear()
    loaded = settings.load().api.token
    assert loaded.get_secret_value() == "a-token-of-32-characters-exactly" and "characters" not in repr(loaded)
