"""The student-state domain's core (no Dagster here): state machine, scenario rules,
the heartbeat's state refresh, inactivity detection, pipeline health and notifications."""
