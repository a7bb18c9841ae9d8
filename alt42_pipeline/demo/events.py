"""A generated platform's activity as canonical events, without a warehouse.

The columns the risk model's daily table needs (``user_id, verb, topic_id, success,
duration_s, occurred_at``), built straight from the source frames: what ingestion would
make of them on clean data. For benchmarks and tests that need many students fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spine.events import ANSWERED
from .platform import Platform


def canonical_events(platform: Platform) -> pd.DataFrame:
    att = platform.assessment["attempt"]
    topic = platform.assessment["question"].set_index("id")["topic"]
    answers = pd.DataFrame(
        {
            "user_id": att["user_id"].to_numpy(),
            "verb": ANSWERED,
            "topic_id": att["question_id"].map(topic).to_numpy(),
            "success": att["correct"].to_numpy() == 1,
            "duration_s": att["response_time_ms"].to_numpy() / 1000.0,
            "occurred_at": pd.to_datetime(att["answered_at"]).to_numpy(),
        }
    )
    log = platform.moodle["logstore_standard_log"]
    verbs = log["action"].replace({"loggedin": "logged_in"})
    activity = pd.DataFrame(
        {
            "user_id": log["userid"].to_numpy(),
            "verb": verbs.to_numpy(),
            "topic_id": None,
            "success": np.nan,
            "duration_s": np.nan,
            "occurred_at": pd.to_datetime(log["timecreated"], unit="s").to_numpy(),
        }
    )
    steps = platform.moodle["question_attempt_steps"]
    graded = steps[steps["sequencenumber"] == 2]
    qa = platform.moodle["question_attempts"].set_index("id")
    category = platform.moodle["question"].set_index("id")["category"]
    qid = qa.loc[graded["questionattemptid"], "questionid"].to_numpy()
    quiz = pd.DataFrame(
        {
            "user_id": graded["userid"].to_numpy(),
            "verb": ANSWERED,
            "topic_id": "mdl-cat:" + pd.Series(category.loc[qid].to_numpy()).astype(str),
            "success": graded["state"].to_numpy() == "gradedright",
            "duration_s": np.nan,
            "occurred_at": pd.to_datetime(graded["timecreated"], unit="s").to_numpy(),
        }
    )
    return pd.concat([answers, activity, quiz], ignore_index=True)
