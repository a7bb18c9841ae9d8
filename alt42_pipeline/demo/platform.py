"""Generate a tutoring platform: students, topics, items, answers and activity logs.

Everything is drawn from a seeded generator and the true values are kept on the result,
so later stages can check what they recover:

* students have a true ability ``theta ~ N(0, 1)`` and a latent daily engagement whose
  drift is set by their pattern: ``steady`` (no drift), ``fading`` (a slow decline) or
  ``dropped`` (at risk: a steeper decline from a random onset day). Engagement drives
  what the platform can observe (the chance of being active, sessions per day, answers
  per session, success) and the daily drop-out hazard is a logistic function of low
  engagement, so drop-outs have precursors a model can see (:func:`engagement_paths`);
  the drop-out day drawn from that hazard is kept as the truth (``dropout_day``, -1 for none);
* the assessment item bank has topics and items with true 2PL parameters
  (``a ~ lognormal(0, 0.3)``, ``b ~ N(0, 1)``, ``d = -a b``); a set of anchor items
  carries *reference* parameters in ``question.meta`` on a reference scale that differs
  from the generating scale by a known linear map ``theta_ref = slope * theta + intercept``
  (``Platform.scale``), which linking must recover;
* Moodle has its own quiz question bank (categories as topics);
* each active day has one or two sessions: a login, course and module views, then either
  a practice session in the assessment system or a Moodle quiz attempt, with answers drawn
  from the 2PL model and response times from a log-normal distribution.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..irt.model import d_from_b, response

PATTERNS = ("steady", "fading", "dropped")


@dataclass(frozen=True)
class DemoConfig:
    students: int = 400
    topics: int = 8
    items_per_topic: int = 25
    anchors: int = 20
    moodle_categories: int = 4
    moodle_items_per_category: int = 10
    days: int = 28
    end_date: dt.date | None = None  # last day with activity; default: yesterday (UTC)
    seed: int = 42
    scale_slope: float = 1.15
    scale_intercept: float = 0.30
    pattern_shares: tuple[float, float, float] = (0.6, 0.25, 0.15)
    answers_per_session: float = 12.0
    quiz_session_share: float = 0.3
    first_user_id: int = 1001
    courses: int = 2
    # Moodle questions graded partially (GPCM truth, categories 0..K-1 as fractions k/(K-1))
    partial_credit_questions: int = 10
    partial_credit_categories: int = 4
    #: Share of source rows given the shapes real platforms have (see ``_real_world_cases``):
    #: 0 writes clean sources; the ``demo`` command writes about 1 %.
    real_world_share: float = 0.0
    #: 3: ``question.category``; 4: Moodle 4.x's question_bank_entries / question_versions.
    moodle_version: int = 3

    @property
    def last_day(self) -> dt.date:
        return self.end_date or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))

    @property
    def first_day(self) -> dt.date:
        return self.last_day - dt.timedelta(days=self.days - 1)


@dataclass
class Platform:
    """The generated platform: truth plus the rows of every source table."""

    config: DemoConfig
    students: pd.DataFrame  # user_id, theta, pattern, dropout_day
    items: pd.DataFrame  # question_id, topic, a, d, b, is_anchor, source
    scale: dict[str, float]
    assessment: dict[str, pd.DataFrame] = field(default_factory=dict)  # question, attempt
    moodle: dict[str, pd.DataFrame] = field(default_factory=dict)  # base names without prefix
    #: What the warehouse must hold after ingesting every day (``_real_world_cases``).
    real_world: dict = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return (
            len(self.assessment["attempt"])
            + len(self.moodle["logstore_standard_log"])
            + len(self.moodle["question_attempts"])
        )


def _bank(rng: np.random.Generator, n: int, topics: list[str], source: str) -> pd.DataFrame:
    """``n`` items with true 2PL parameters: ``a ~ lognormal(0, 0.3)``, ``b ~ N(0, 1)``."""
    a, b = rng.lognormal(0.0, 0.3, n), rng.normal(0.0, 1.0, n)
    return pd.DataFrame(
        {
            "question_id": np.arange(1, n + 1),
            "topic": topics,
            "a": a,
            "b": b,
            "d": d_from_b(a, b),
            "is_anchor": False,
            "source": source,
        }
    )


def _items(cfg: DemoConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.topics * cfg.items_per_topic
    bank = _bank(
        rng, n, [f"topic-{t + 1:02d}" for t in np.repeat(np.arange(cfg.topics), cfg.items_per_topic)], "assessment"
    )
    anchors = rng.choice(n, size=min(cfg.anchors, n), replace=False)
    bank.loc[anchors, "is_anchor"] = True
    m = cfg.moodle_categories * cfg.moodle_items_per_category
    moodle = _bank(
        rng,
        m,
        [f"{c + 1}" for c in np.repeat(np.arange(cfg.moodle_categories), cfg.moodle_items_per_category)],
        "moodle",
    )
    return pd.concat([bank, moodle], ignore_index=True)


def _students(cfg: DemoConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.students
    pattern = rng.choice(PATTERNS, size=n, p=np.asarray(cfg.pattern_shares) / sum(cfg.pattern_shares))
    return pd.DataFrame(
        {
            "user_id": np.arange(cfg.first_user_id, cfg.first_user_id + n, dtype=np.int64),
            "theta": rng.normal(0.0, 1.0, n),
            "pattern": pattern,
            "dropout_day": -1,  # drawn from the engagement hazard (engagement_paths)
        }
    )


# -- engagement and drop-out (the precursors a risk model can observe) ----------------------


@dataclass(frozen=True)
class Engagement:
    """Per student and day: the latent engagement and what it does to observable activity."""

    level: np.ndarray  # (students, days) latent engagement, about 1 when keen, below 0 when fading away
    p_active: np.ndarray  # P(any activity that day); 0 from the drop-out day on
    second_session: np.ndarray  # P(a second session on an active day)
    answers_factor: np.ndarray  # multiplies the mean answers per session
    ability_shift: np.ndarray  # added to theta when answering (tired, rushed work fails more)
    dropout_day: np.ndarray  # (students,) day index of the drop-out, -1 when none in the period


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def engagement_paths(cfg: DemoConfig, students: pd.DataFrame) -> Engagement:
    """The latent engagement process, in the spirit of the drop-out literature's precursors
    (fewer and shorter sessions, longer gaps, falling success before a student leaves).

    * engagement = a baseline ``N(1, 0.2)`` + a decline + stationary noise (mean-reverting,
      sd about 0.18, a tenth of the gap closed each day);
    * the decline starts at an onset day and goes on linearly: ``steady`` students have none,
      ``fading`` ones lose 0.01 to 0.03 a day, ``dropped`` (at-risk) ones 0.03 to 0.07 a day
      (from keen to gone in three to six weeks: the literature's gradual disengagement, whose
      precursors start one to three weeks before the last login);
      onsets are spread over the period and the four weeks before it (the platform was running
      before the demo's first day, so the first days already hold students in decline); a
      third of the students join during the first half, their onsets after joining; every
      student is active on their first day of the period (the day they join, or the first);
    * P(active) = logistic(-0.3 + 2.2 e) (0.87 when keen, 0.43 at e = 0, 0.08 at e = -1);
      P(second session) = 0.1 + 0.25 clip(e, 0, 1); answers per session (time on task)
      x exp(0.8 (e - 1)) (0.67 at e = 0.5, 0.45 at e = 0); ability when answering
      + 0.5 min(e - 0.5, 0) (only students whose engagement has fallen answer below their
      ability; kept mild, as the calibration tests take the answers for 2PL data);
    * each day a student drops out with hazard logistic(-9 - 12 e): nil while engaged
      (e >= 0: at most 0.01%), 0.25% a day at e = -0.25, 4.7% at e = -0.5, 50% at e = -0.75;
      after the drop-out day nothing. The drop-out is the end of a visible decline (a student
      leaves once engagement has fallen to about -0.5, where P(active) is 0.2), not a coin
      flip at a middling level: with the earlier hazard (logistic(-5 - 4 e), 0.7% a day at
      e = 0) a student could leave while still active every other day, and even a model
      given the true engagement and its slope reached a median lead of 3 days at the
      precision target (``benchmarks/risk_model.py`` history in ``benchmarks/README.md``).

    Drawn from its own seeded stream, so the other draws of the generator do not move.
    """
    rng = np.random.default_rng([cfg.seed, 17])
    n, days, before = len(students), cfg.days, 28
    pattern = students["pattern"].to_numpy()
    day = np.arange(-before, days)[None, :]
    joins = rng.random(n) < 1 / 3
    start = np.where(joins, rng.integers(0, max(1, days // 2), n), -before)
    span = np.where(pattern == "dropped", days * 2 // 3, days)
    onset = np.where(joins, start, -before) + (rng.random(n) * (span + np.where(joins, 0, before))).astype(int)
    slope = np.select(
        [pattern == "dropped", pattern == "fading"], [rng.uniform(0.03, 0.07, n), rng.uniform(0.01, 0.03, n)], 0.0
    )
    decline = slope[:, None] * np.clip(day - onset[:, None], 0, None)
    noise = np.zeros((n, before + days))
    shocks = rng.normal(0.0, 0.08, (n, before + days))
    for j in range(1, before + days):
        noise[:, j] = 0.9 * noise[:, j - 1] + shocks[:, j]
    level = (rng.normal(1.0, 0.2, n)[:, None] - decline + noise)[:, before:]
    visible = day[:, before:]
    hazard = _logistic(-9.0 - 12.0 * level)
    joined = visible >= start[:, None]
    first = np.maximum(start, 0)[:, None]  # every student is active on their first day of the period
    gone = (rng.random((n, days)) < hazard) & (visible > first)
    dropout = np.where(gone.any(axis=1), gone.argmax(axis=1), -1)
    after = ((dropout[:, None] >= 0) & (visible >= dropout[:, None])) | ~joined
    return Engagement(
        level=level,
        p_active=np.where(after, 0.0, np.where(visible == first, 1.0, _logistic(-0.3 + 2.2 * level))),
        second_session=0.1 + 0.25 * np.clip(level, 0.0, 1.0),
        answers_factor=np.exp(0.8 * (level - 1.0)),
        ability_shift=0.5 * np.minimum(level - 0.5, 0.0),
        dropout_day=dropout,
    )


def generate(cfg: DemoConfig | None = None) -> Platform:
    """Draw a platform from ``cfg`` (same config and seed, same platform)."""
    cfg = cfg or DemoConfig()
    rng = np.random.default_rng(cfg.seed)
    items = _with_partial_credit(cfg, _items(cfg, rng))
    students = _students(cfg, rng)

    engagement = engagement_paths(cfg, students)
    students["dropout_day"] = engagement.dropout_day

    # -- sessions: (student, day, start second) -----------------------------------------
    active = rng.random((cfg.students, cfg.days)) < engagement.p_active
    s_idx, d_idx = np.nonzero(active)
    n_sess = 1 + (rng.random(len(s_idx)) < engagement.second_session[s_idx, d_idx])
    sess_student = np.repeat(s_idx, n_sess)
    sess_day = np.repeat(d_idx, n_sess)
    first = np.r_[True, (sess_student[1:] != sess_student[:-1]) | (sess_day[1:] != sess_day[:-1])]
    start = np.where(
        first,
        rng.integers(7 * 3600, 13 * 3600, len(sess_student)),
        rng.integers(15 * 3600, 21 * 3600, len(sess_student)),
    )
    is_quiz = rng.random(len(sess_student)) < cfg.quiz_session_share
    n_sessions = len(sess_student)
    base = pd.Timestamp(cfg.first_day)
    sess_time = base + pd.to_timedelta(sess_day * 86400 + start, unit="s")

    # -- answers per session ------------------------------------------------------------
    n_ans = rng.poisson(cfg.answers_per_session * engagement.answers_factor[sess_student, sess_day], n_sessions) + 3
    bank = items[items.source == "assessment"].reset_index(drop=True)
    mbank = items[items.source == "moodle"].reset_index(drop=True)
    topics = bank["topic"].unique()
    cats = mbank["topic"].unique()
    sess_topic = np.where(is_quiz, rng.integers(0, len(cats), n_sessions), rng.integers(0, len(topics), n_sessions))
    ans_sess = np.repeat(np.arange(n_sessions), n_ans)
    ans_quiz = is_quiz[ans_sess]
    # pick an item of the session's topic/category
    per_topic = cfg.items_per_topic
    per_cat = cfg.moodle_items_per_category
    within = np.where(ans_quiz, rng.integers(0, per_cat, len(ans_sess)), rng.integers(0, per_topic, len(ans_sess)))
    row = np.where(ans_quiz, sess_topic[ans_sess] * per_cat + within, sess_topic[ans_sess] * per_topic + within)
    a = np.where(
        ans_quiz,
        mbank["a"].to_numpy()[np.minimum(row, len(mbank) - 1)],
        bank["a"].to_numpy()[np.minimum(row, len(bank) - 1)],
    )
    d = np.where(
        ans_quiz,
        mbank["d"].to_numpy()[np.minimum(row, len(mbank) - 1)],
        bank["d"].to_numpy()[np.minimum(row, len(bank) - 1)],
    )
    theta = (students["theta"].to_numpy()[sess_student] + engagement.ability_shift[sess_student, sess_day])[ans_sess]
    correct = rng.random(len(ans_sess)) < response(theta, a, d)
    fraction = _partial_credit_answers(cfg, mbank, ans_quiz, np.minimum(row, len(mbank) - 1), theta, correct)
    rt = np.clip(rng.lognormal(np.log(35.0), 0.5, len(ans_sess)), 3, 600)
    # answer time = session start + 90 s of reading + cumulative response times in the session
    cum = np.cumsum(rt)
    sess_first = np.r_[0, np.cumsum(n_ans)[:-1]]
    offset = cum - np.repeat(cum[sess_first] - rt[sess_first], n_ans)
    ans_time = (sess_time[ans_sess] + pd.to_timedelta(90 + offset, unit="s")).floor("ms")
    sess_end = pd.Series(ans_time).groupby(ans_sess).max().reindex(range(n_sessions)).to_numpy()

    user_of_ans = students["user_id"].to_numpy()[sess_student[ans_sess]]
    platform = Platform(
        config=cfg,
        students=students,
        items=items,
        scale={"slope": cfg.scale_slope, "intercept": cfg.scale_intercept},
    )

    # -- assessment database ------------------------------------------------------------
    asmt = ~ans_quiz
    platform.assessment["attempt"] = pd.DataFrame(
        {
            "id": np.arange(1, int(asmt.sum()) + 1, dtype=np.int64),
            "user_id": user_of_ans[asmt],
            "question_id": bank["question_id"].to_numpy()[row[asmt]],
            "correct": correct[asmt].astype(np.int16),
            "answered_at": ans_time[asmt],
            "response_time_ms": (rt[asmt] * 1000).astype(np.int64),
        }
    )
    platform.assessment["question"] = _question_rows(bank, cfg)

    # -- Moodle -------------------------------------------------------------------------
    activity = _Activity(
        sess_student, sess_time, sess_end, is_quiz, sess_topic, ans_sess, ans_quiz, row, correct, ans_time, fraction
    )
    platform.moodle.update(_moodle_rows(cfg, rng, students, mbank, activity))
    if cfg.real_world_share > 0:
        _real_world_cases(platform)
    if cfg.moodle_version == 4:
        _moodle_4_layout(platform)
    return platform


def _question_rows(bank: pd.DataFrame, cfg: DemoConfig) -> pd.DataFrame:
    slope, intercept = cfg.scale_slope, cfg.scale_intercept
    metas = []
    for r in bank.itertuples(index=False):
        meta: dict = {
            "tags": ["practice"],
            "difficulty_label": "hard" if r.b > 0.5 else "easy" if r.b < -0.5 else "medium",
        }
        if r.is_anchor:
            a_ref, b_ref = r.a / slope, slope * r.b + intercept
            meta["tags"] = ["anchor", "practice"]
            meta["irt"] = {"model": "2pl", "a": round(a_ref, 6), "b": round(b_ref, 6), "d": round(-a_ref * b_ref, 6)}
        metas.append(json.dumps(meta, sort_keys=True))
    return pd.DataFrame(
        {
            "id": bank["question_id"].to_numpy(),
            "topic": bank["topic"].to_numpy(),
            "meta": metas,
            "created_at": pd.Timestamp(cfg.first_day) - pd.Timedelta(days=180),
        }
    )


def _epoch(ts) -> np.ndarray:
    return pd.DatetimeIndex(ts).as_unit("s").asi8.astype(np.int64)


@dataclass(frozen=True)
class _Activity:
    """The generated sessions (one entry each) and answers (one entry each)."""

    sess_student: np.ndarray
    sess_time: np.ndarray
    sess_end: np.ndarray
    is_quiz: np.ndarray
    sess_topic: np.ndarray
    ans_sess: np.ndarray
    ans_quiz: np.ndarray
    row: np.ndarray
    correct: np.ndarray
    ans_time: np.ndarray
    fraction: np.ndarray | None = None  # Moodle's fraction per answer (partial credit)


def _moodle_rows(cfg, rng, students, mbank, activity: _Activity) -> dict[str, pd.DataFrame]:
    sess_student, sess_time, sess_end, is_quiz, sess_topic = (
        activity.sess_student,
        activity.sess_time,
        activity.sess_end,
        activity.is_quiz,
        activity.sess_topic,
    )
    ans_sess, ans_quiz, row, correct, ans_time = (
        activity.ans_sess,
        activity.ans_quiz,
        activity.row,
        activity.correct,
        activity.ans_time,
    )
    n_sessions = len(sess_student)
    users = students["user_id"].to_numpy()
    course = 1 + (sess_topic % cfg.courses)
    quiz_ids = np.arange(1, len(mbank["topic"].unique()) + 1)
    quiz = pd.DataFrame(
        {"id": quiz_ids, "course": 1 + ((quiz_ids - 1) % cfg.courses), "name": [f"Quiz {q}" for q in quiz_ids]}
    )
    question = pd.DataFrame(
        {
            "id": mbank["question_id"].to_numpy(),
            "category": mbank["topic"].astype(int).to_numpy(),
            "name": [f"Q{q}" for q in mbank["question_id"]],
            "qtype": np.where(mbank["n_categories"] > 2, "multianswer", "multichoice")
            if "n_categories" in mbank
            else "multichoice",
        }
    )

    # log: login at the first session of a day, a course view, module views, quiz events
    t0 = _epoch(sess_time)
    t_end = _epoch(sess_end)
    n_views = rng.integers(1, 4, n_sessions)
    logs = []

    def add(mask, name, component, action, target, objecttable, objectid, crud, edulevel, t):
        logs.append(
            pd.DataFrame(
                {
                    "eventname": name,
                    "component": component,
                    "action": action,
                    "target": target,
                    "objecttable": objecttable,
                    "objectid": objectid,
                    "crud": crud,
                    "edulevel": edulevel,
                    "userid": users[sess_student[mask]],
                    "courseid": np.where(name == "\\core\\event\\user_loggedin", 0, course[mask]),
                    "anonymous": 0,
                    "timecreated": t,
                    "origin": "web",
                }
            )
        )

    every = np.ones(n_sessions, bool)
    add(every, "\\core\\event\\user_loggedin", "core", "loggedin", "user", "user", users[sess_student], "r", 0, t0 - 30)
    add(every, "\\core\\event\\course_viewed", "core", "viewed", "course", None, None, "r", 2, t0 + 10)
    for k in range(3):
        vmask = n_views > k
        add(
            vmask,
            "\\mod_page\\event\\course_module_viewed",
            "mod_page",
            "viewed",
            "course_module",
            "page",
            100 + sess_topic[vmask],
            "r",
            2,
            t0[vmask] + 20 + 20 * k,
        )

    # quiz attempts: one per quiz session
    q_sess = np.nonzero(is_quiz)[0]
    qa_ids = np.arange(1, len(q_sess) + 1)
    quiz_of = quiz_ids[sess_topic[q_sess] % len(quiz_ids)]
    quiz_attempts = pd.DataFrame(
        {
            "id": qa_ids,
            "quiz": quiz_of,
            "userid": users[sess_student[q_sess]],
            "attempt": 1,
            "uniqueid": 10_000 + qa_ids,
            "preview": 0,
            "state": "finished",
            "timestart": t0[q_sess] + 60,
            "timefinish": t_end[q_sess] + 5,
            "timemodified": t_end[q_sess] + 5,
            "sumgrades": 0.0,
        }
    )
    add(
        is_quiz,
        "\\mod_quiz\\event\\attempt_started",
        "mod_quiz",
        "started",
        "attempt",
        "quiz_attempts",
        qa_ids,
        "c",
        2,
        t0[q_sess] + 60,
    )
    add(
        is_quiz,
        "\\mod_quiz\\event\\attempt_submitted",
        "mod_quiz",
        "submitted",
        "attempt",
        "quiz_attempts",
        qa_ids,
        "u",
        2,
        t_end[q_sess] + 5,
    )
    log = pd.concat(logs, ignore_index=True).sort_values("timecreated", kind="stable").reset_index(drop=True)
    log.insert(0, "id", np.arange(1, len(log) + 1, dtype=np.int64))

    # question attempts and their steps: todo -> complete -> graded
    qidx = np.nonzero(ans_quiz)[0]
    attempt_of_session = np.full(n_sessions, -1)
    attempt_of_session[q_sess] = np.arange(len(q_sess))
    owner = attempt_of_session[ans_sess[qidx]]
    n_q = len(qidx)
    qatt_ids = np.arange(1, n_q + 1)
    slot = pd.Series(owner).groupby(owner).cumcount().to_numpy() + 1
    finish = quiz_attempts["timefinish"].to_numpy()[owner]
    question_attempts = pd.DataFrame(
        {
            "id": qatt_ids,
            "questionusageid": quiz_attempts["uniqueid"].to_numpy()[owner],
            "slot": slot,
            "behaviour": "deferredfeedback",
            "questionid": mbank["question_id"].to_numpy()[row[qidx]],
            "maxmark": 1.0,
            "minfraction": 0.0,
            "maxfraction": 1.0,
            "timemodified": finish,
        }
    )
    ok = correct[qidx]
    frac = activity.fraction[qidx] if activity.fraction is not None else ok.astype(float)
    t_answer = _epoch(ans_time[qidx])
    steps = pd.DataFrame(
        {
            "questionattemptid": np.repeat(qatt_ids, 3),
            "sequencenumber": np.tile([0, 1, 2], n_q),
            "state": np.column_stack(
                [
                    np.full(n_q, "todo"),
                    np.full(n_q, "complete"),
                    np.where(ok, "gradedright", np.where(frac > 0, "gradedpartial", "gradedwrong")),
                ]
            ).ravel(),
            "fraction": np.column_stack([np.full(n_q, np.nan), np.full(n_q, np.nan), frac]).ravel(),
            "timecreated": np.column_stack([quiz_attempts["timestart"].to_numpy()[owner], t_answer, finish]).ravel(),
            "userid": np.repeat(quiz_attempts["userid"].to_numpy()[owner], 3),
        }
    )
    steps.insert(0, "id", np.arange(1, len(steps) + 1, dtype=np.int64))
    sums = pd.Series(frac).groupby(owner).sum()
    quiz_attempts.loc[sums.index, "sumgrades"] = sums.to_numpy()

    last = log.groupby(["userid", "courseid"], as_index=False)["timecreated"].max()
    last = last[last.courseid > 0]
    lastaccess = pd.DataFrame(
        {
            "id": np.arange(1, len(last) + 1),
            "userid": last.userid,
            "courseid": last.courseid,
            "timeaccess": last.timecreated,
        }
    )
    return {
        **_roles(cfg, users),
        "logstore_standard_log": log,
        "quiz": quiz,
        "question": question,
        "quiz_attempts": quiz_attempts,
        "question_attempts": question_attempts,
        "question_attempt_steps": steps,
        "user_lastaccess": lastaccess,
    }


# -- partial credit (GPCM truth) -------------------------------------------------------------


def _with_partial_credit(cfg: DemoConfig, items: pd.DataFrame) -> pd.DataFrame:
    """``partial_credit_questions`` Moodle questions (those of middling ``b``) become partial-credit items with
    ``partial_credit_categories`` categories and GPCM truth: the item's slope, step
    difficulties spread around its ``b`` (their mean stays ``b``, so ``d = -a b`` stays the
    location).  Columns ``model``, ``n_categories``, ``b1..``, ``d1..`` (NaN past an item's
    own) are added for every item.  Own seeded draws: the rest of the platform is unchanged."""
    from ..irt.polymodel import intercepts_from_b, kind_of

    rng = np.random.default_rng([cfg.seed, 16])
    K = max(int(cfg.partial_credit_categories), 2)
    out = items.copy()
    out["model"] = "2pl"
    out["n_categories"] = 2
    # the Moodle questions of middling difficulty: every category is attained by some students
    moodle = np.flatnonzero(out["source"].to_numpy() == "moodle")
    by_b = moodle[np.argsort(np.abs(out["b"].to_numpy()[moodle]), kind="stable")]
    moodle = np.sort(by_b[: max(cfg.partial_credit_questions, 0)])
    out.loc[out.index[moodle], "model"] = "gpcm"
    out.loc[out.index[moodle], "n_categories"] = K
    B = np.full((len(out), K - 1), np.nan)
    B[:, 0] = out["b"].to_numpy()
    spread = np.sort(rng.normal(0.0, 0.25, (moodle.size, K - 1)) + np.linspace(-0.7, 0.7, K - 1), axis=1)
    B[moodle] = out["b"].to_numpy()[moodle, None] + spread - spread.mean(axis=1, keepdims=True)
    kind = np.array([kind_of(m) for m in out["model"]])
    D = intercepts_from_b(kind, out["a"].to_numpy(), B)
    for k in range(K - 1):
        out[f"b{k + 1}"] = B[:, k]
        out[f"d{k + 1}"] = D[:, k]
    return out


def _partial_credit_answers(cfg, mbank, ans_quiz, row, theta, correct) -> np.ndarray:
    """Moodle's fraction per answer: 0/1 for binary questions, ``k / (K - 1)`` with category
    ``k`` drawn from the GPCM for partial-credit ones (own seeded draws); ``correct`` becomes
    full marks for those answers."""
    from ..irt.polymodel import answer_probs, poly_item_arrays

    fraction = correct.astype(float)
    if "n_categories" not in mbank:
        return fraction
    poly = ans_quiz & (mbank["n_categories"].to_numpy()[row] > 2)
    if not poly.any():
        return fraction
    rng = np.random.default_rng([cfg.seed, 1616])
    p = poly_item_arrays(mbank)  # rows in mbank's order, as ``row`` counts them
    idx = np.flatnonzero(poly)
    P = answer_probs(theta[idx], row[idx], p)
    cat = (rng.random((idx.size, 1)) > np.cumsum(P, axis=1)).sum(axis=1)
    K = p.ncat[row[idx]]
    cat = np.minimum(cat, K - 1)
    fraction[idx] = cat / (K - 1)
    correct[idx] = cat == K - 1
    return fraction


def _roles(cfg: DemoConfig, users: np.ndarray) -> dict[str, pd.DataFrame]:
    """Moodle's role tables: every demo student holds the student role in every course."""
    courses = np.arange(1, cfg.courses + 1)
    role = pd.DataFrame(
        {
            "id": [3, 5],
            "name": ["Teacher", "Student"],
            "shortname": ["editingteacher", "student"],
            "archetype": ["editingteacher", "student"],
        }
    )
    context = pd.DataFrame({"id": 100 + courses, "contextlevel": 50, "instanceid": courses})
    ctx = np.repeat(100 + courses, len(users))
    assignments = pd.DataFrame(
        {
            "id": np.arange(1, len(ctx) + 1),
            "roleid": 5,
            "contextid": ctx,
            "userid": np.tile(users, len(courses)),
            "timemodified": 0,
        }
    )
    return {"role": role, "context": context, "role_assignments": assignments}


# -- real-world cases (issue 12): the shapes real sources have, with the truth ----------------
#
# Kept apart from the generator above on purpose: its own random stream (seed + 12), applied
# to the finished tables, so the clean platform is the same with or without these cases.

#: The demo's teacher: grades by hand, previews quizzes (editingteacher in every course).
DEMO_TEACHER = 9001


def _real_world_cases(platform: Platform) -> None:
    """Give about ``real_world_share`` of the rows the shapes of real platforms and record in
    ``platform.real_world`` what the warehouse must hold after every day is ingested:

    * assessment: ids repeated on a later day (the production table is a view), attempts
      without ``answered_at``, negative response times, rows without a user;
    * Moodle: manual regrades on the next day (``mangrright`` by the teacher, with the
      modification times Moodle sets, and the teacher's log row), partial credit and negative
      marks (``minfraction`` -0.5), give-ups commented by the teacher (``mangaveup``), the
      teacher's quiz previews, log rows whose action is too long for the warehouse.
    """
    cfg = platform.config
    rng = np.random.default_rng(cfg.seed + 12)
    asmt, mdl = platform.assessment, platform.moodle
    attempts = asmt["attempt"]
    k = max(1, round(cfg.real_world_share * len(attempts) / 4))
    truth = {
        "rejects": {"duplicate_event_id": k, "missing_user": k},
        "apart": {},
        "without_time": k,
        "notes": {"duration_out_of_range": k},
    }
    last = pd.Timestamp(cfg.last_day)
    # assessment: k ids again on a later day; k without a time; k without a user; k negative times
    early = attempts[attempts["answered_at"] < last].sample(k, random_state=rng.integers(1 << 31))
    dup = early.assign(answered_at=early["answered_at"] + pd.Timedelta(days=1), correct=1 - early["correct"])
    base = attempts.iloc[:k]
    next_id = int(attempts["id"].max()) + 1
    no_time = base.assign(id=np.arange(next_id, next_id + k), answered_at=pd.NaT)
    no_user = base.assign(id=np.arange(next_id + k, next_id + 2 * k), user_id=pd.NA)
    negative = attempts.index[k : 2 * k]
    attempts.loc[negative, "response_time_ms"] = -1500
    asmt["attempt"] = pd.concat([attempts, dup, no_time, no_user], ignore_index=True)
    truth["assessment_read"] = len(attempts) + 2 * k  # the rows a day can read
    truth["assessment_events"] = len(attempts)

    # Moodle: the teacher, regrades, partial and negative marks, give-ups, previews, long actions
    qas, steps, quiz_attempts = mdl["question_attempts"], mdl["question_attempt_steps"], mdl["quiz_attempts"]
    log = mdl["logstore_standard_log"]
    _enrol_teacher(mdl, cfg)
    km = max(1, round(cfg.real_world_share * len(qas) / 4))
    final = steps.groupby("questionattemptid").tail(1).set_index("questionattemptid")
    finish = quiz_attempts.set_index("uniqueid")["timefinish"]
    qa_finish = qas["questionusageid"].map(finish)
    last_epoch = int(last.timestamp())
    # regrades: wrong answers of distinct quiz attempts finished before the last day
    wrong = qas[(final.loc[qas["id"], "state"].to_numpy() == "gradedwrong") & (qa_finish < last_epoch).to_numpy()]
    regraded = wrong.drop_duplicates("questionusageid").sample(
        min(km, len(wrong.drop_duplicates("questionusageid"))), random_state=rng.integers(1 << 31)
    )
    day_start = (qa_finish.loc[regraded.index] // 86400 + 1) * 86400
    when = (day_start + 9 * 3600 + rng.integers(0, 3600, len(regraded))).to_numpy()
    new_steps = [_step(q, 3, "mangrright", 1.0, t, DEMO_TEACHER) for q, t in zip(regraded["id"], when)]
    qas.loc[regraded.index, "timemodified"] = when
    qa_of = quiz_attempts.set_index("uniqueid")
    touched = regraded["questionusageid"].to_numpy()
    quiz_attempts.loc[qa_of.index.get_indexer(touched), "timemodified"] = when
    updated = int(qas["questionusageid"].isin(touched).sum())
    grading_log = pd.DataFrame(
        {
            "eventname": "\\mod_quiz\\event\\question_manually_graded",
            "component": "mod_quiz",
            "action": "manually",
            "target": "question",
            "objecttable": "question",
            "objectid": regraded["questionid"].to_numpy(),
            "crud": "u",
            "edulevel": 1,
            "userid": DEMO_TEACHER,
            "courseid": 1,
            "anonymous": 0,
            "timecreated": when,
            "origin": "web",
        }
    )
    # partial credit and negative marks; give-ups commented by the teacher
    rest = qas.drop(regraded.index)
    marked = rest.sample(min(2 * km, len(rest)), random_state=rng.integers(1 << 31))
    partial, negative_mark = marked.iloc[: len(marked) // 2], marked.iloc[len(marked) // 2 :]
    gave_up = rest.drop(marked.index).sample(min(km, len(rest) - len(marked)), random_state=rng.integers(1 << 31))
    qas.loc[marked.index, "minfraction"] = -0.5
    last_step = steps.groupby("questionattemptid").tail(1)
    for frame, state, fraction in ((partial, "gradedpartial", 0.25), (negative_mark, "gradedwrong", -0.5)):
        rows = last_step.index[last_step["questionattemptid"].isin(frame["id"])]
        steps.loc[rows, ["state", "fraction"]] = [state, fraction]
    rows = last_step.index[last_step["questionattemptid"].isin(gave_up["id"])]
    steps.loc[rows, ["state", "fraction"]] = ["gaveup", np.nan]
    new_steps += [
        _step(q, 3, "mangaveup", np.nan, int(t) + 3600, DEMO_TEACHER)
        for q, t in zip(gave_up["id"], qa_finish.loc[gave_up.index])
    ]
    # the teacher previews a quiz: its question attempts are kept apart
    preview_qa = qas.iloc[:km]
    pid = int(quiz_attempts["id"].max()) + 1
    preview_usage = int(quiz_attempts["uniqueid"].max()) + 1
    pfinish = int(qa_finish.iloc[0]) + 120
    quiz_attempts.loc[len(quiz_attempts)] = {
        "id": pid,
        "quiz": 1,
        "userid": DEMO_TEACHER,
        "attempt": 1,
        "uniqueid": preview_usage,
        "preview": 1,
        "state": "finished",
        "timestart": pfinish - 300,
        "timefinish": pfinish,
        "timemodified": pfinish,
        "sumgrades": 0.0,
    }
    first_qa = int(qas["id"].max()) + 1
    previews = preview_qa.assign(
        id=np.arange(first_qa, first_qa + len(preview_qa)), questionusageid=preview_usage, timemodified=pfinish
    )
    new_steps += [_step(q, 0, "gradedright", 1.0, pfinish, DEMO_TEACHER) for q in previews["id"]]
    # log rows whose action does not fit the warehouse's verb (32 characters)
    long_rows = log.iloc[:km].assign(action="x" * 40, eventname="\\local_custom\\event\\very_long_action")
    mdl["question_attempts"] = pd.concat([qas, previews], ignore_index=True)
    all_steps = pd.concat([steps, pd.DataFrame(new_steps)], ignore_index=True)
    all_steps["id"] = np.arange(1, len(all_steps) + 1)
    mdl["question_attempt_steps"] = all_steps.sort_values(["questionattemptid", "sequencenumber"]).reset_index(
        drop=True
    )
    extra_log = pd.concat([grading_log, long_rows.drop(columns="id")], ignore_index=True)
    extra_log.insert(0, "id", np.arange(int(log["id"].max()) + 1, int(log["id"].max()) + 1 + len(extra_log)))
    mdl["logstore_standard_log"] = pd.concat([log, extra_log], ignore_index=True)

    truth["rejects"]["value_too_long"] = len(long_rows)
    truth["apart"] = {"non_student": len(grading_log), "preview": len(previews)}
    truth["moodle_events"] = len(log) + len(qas)
    truth["moodle_updated"] = updated
    truth["moodle_read"] = len(log) + len(extra_log) + len(qas) + len(previews) + updated
    truth["regraded"] = sorted(f"mdl-qa:{q}" for q in regraded["id"])
    truth["scores"] = {
        **{f"mdl-qa:{q}": (0.5, 0.25) for q in partial["id"]},
        **{f"mdl-qa:{q}": (0.0, -0.5) for q in negative_mark["id"]},
        **{f"mdl-qa:{q}": (0.0, 0.0) for q in gave_up["id"]},
        **{f"mdl-qa:{q}": (1.0, 1.0) for q in regraded["id"]},
    }
    truth["catalogue_problems"] = _bad_question_meta(asmt["question"], rng)
    platform.real_world = truth


def _bad_question_meta(question: pd.DataFrame, rng: np.random.Generator) -> dict[str, str]:
    """Two plain questions get a ``meta`` real authors write: an ``irt`` that is not an object,
    tags as one string. Both stay in the catalogue with a recorded problem."""
    plain = question.index[~question["meta"].str.contains('"anchor"')]
    first, second = rng.choice(plain, 2, replace=False)
    question.loc[first, "meta"] = json.dumps({"tags": ["practice"], "irt": "see sheet"})
    question.loc[second, "meta"] = json.dumps({"tags": "not-an-anchor"})
    return {str(question.loc[first, "id"]): "invalid_irt", str(question.loc[second, "id"]): "tags_not_a_list"}


def _step(question_attempt: int, sequence: int, state: str, fraction: float, t: int, user: int) -> dict:
    return {
        "questionattemptid": int(question_attempt),
        "sequencenumber": sequence,
        "state": state,
        "fraction": fraction,
        "timecreated": int(t),
        "userid": user,
    }


def _enrol_teacher(mdl: dict[str, pd.DataFrame], cfg: DemoConfig) -> None:
    ra = mdl["role_assignments"]
    contexts = mdl["context"]["id"].to_numpy()
    teacher = pd.DataFrame(
        {
            "id": np.arange(len(ra) + 1, len(ra) + 1 + len(contexts)),
            "roleid": 3,
            "contextid": contexts,
            "userid": DEMO_TEACHER,
            "timemodified": 0,
        }
    )
    mdl["role_assignments"] = pd.concat([ra, teacher], ignore_index=True)


def _moodle_4_layout(platform: Platform) -> None:
    """Moodle 4.x: the category moves from ``question`` to ``question_bank_entries``."""
    question = platform.moodle["question"]
    ids = question["id"].to_numpy()
    platform.moodle["question_bank_entries"] = pd.DataFrame(
        {"id": 500 + ids, "questioncategoryid": question["category"].to_numpy(), "idnumber": None, "ownerid": None}
    )
    platform.moodle["question_versions"] = pd.DataFrame(
        {"id": 700 + ids, "questionbankentryid": 500 + ids, "version": 1, "questionid": ids, "status": "ready"}
    )
    platform.moodle["question"] = question.drop(columns="category")
