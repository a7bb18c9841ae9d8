"""A job for the killed-run test: it writes the process ids of its run worker and of its step
where the test says, then waits."""

import os
import time
from pathlib import Path

import dagster as dg


@dg.op
def wait_to_be_killed():
    Path(os.environ["ALT42_TEST_PID_FILE"]).write_text(f"{os.getppid()} {os.getpid()}")
    time.sleep(120)


@dg.job(tags={"dagster/max_runtime": "3"})
def killed_run_job():
    wait_to_be_killed()


defs = dg.Definitions(jobs=[killed_run_job])
