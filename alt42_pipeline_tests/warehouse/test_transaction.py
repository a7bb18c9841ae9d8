import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

AT = dt.datetime(2026, 3, 10, 12, 0, 0, 123456)


def _question(qid: str, anchor: bool, meta) -> dict:
    return {
        "question_id": qid,
        "topic_id": None,
        "source": "t",
        "is_anchor": anchor,
        "ref_a": 1.5,
        "meta": meta,
        "updated_at": AT,
    }


def test_reads_inside_a_transaction_keep_every_type(warehouse):
    warehouse.append(
        "questions", pd.DataFrame([_question("q1", True, {"tags": ["anchor"]}), _question("q2", False, None)])
    )
    q = warehouse.table("questions")
    with warehouse.transaction() as tx:
        got = tx.read(sa.select(q).order_by(q.c.question_id))
    assert got.question_id.tolist() == ["q1", "q2"] and got.topic_id.isna().all()
    assert got.is_anchor.tolist() == [True, False]
    assert got.ref_a.tolist() == [1.5, 1.5]
    assert got.meta.tolist() == [{"tags": ["anchor"]}, None]
    assert got.updated_at.tolist() == [pd.Timestamp(AT)] * 2


def test_an_exception_rolls_back_every_write_of_the_block(warehouse):
    warehouse.append("questions", pd.DataFrame([_question("q1", True, None)]))
    with pytest.raises(RuntimeError, match="boom"):
        with warehouse.transaction() as tx:
            tx.delete_in("questions", "question_id", ["q1"])
            tx.append("questions", pd.DataFrame([_question("q2", False, None)]))
            raise RuntimeError("boom")
    assert warehouse.read("questions").question_id.tolist() == ["q1"]
