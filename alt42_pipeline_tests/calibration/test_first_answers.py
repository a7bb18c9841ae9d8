import pandas as pd

from alt42_pipeline.calibration.pipeline import first_answers

T = pd.Timestamp


def test_first_answer_per_user_and_item_with_ties_broken_by_event_id():
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 2],
            "item_id": ["a", "a", "b", "a", "a", "a"],
            "success": [False, True, True, True, False, True],
            "occurred_at": [
                T("2026-03-02 10:00"),
                T("2026-03-02 09:00"),
                T("2026-03-02 11:00"),
                T("2026-03-02 08:00"),
                T("2026-03-02 08:00"),
                T("2026-03-02 07:00"),
            ],
            "event_id": ["e1", "e2", "e3", "z9", "a1", "m5"],
        }
    )
    got = first_answers(frame).set_index(["user_id", "item_id"])["event_id"].sort_index()
    assert got.to_dict() == {(1, "a"): "e2", (1, "b"): "e3", (2, "a"): "m5"}
    tie = frame.iloc[[3, 4]]
    for order in (tie, tie.iloc[::-1]):  # equal times: the smaller event id, whatever the row order
        assert list(first_answers(order)["event_id"]) == ["a1"]
