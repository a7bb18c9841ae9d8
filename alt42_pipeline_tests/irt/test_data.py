import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt import calibrate, score, wide_to_long
from alt42_pipeline.irt.data import prepare_responses


def _df(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "correct"])


def test_csr_layout_roundtrip():
    df = _df([("u2", "i1", 1), ("u1", "i2", 0), ("u1", "i1", 1), ("u3", "i2", 1)])
    data, excluded = prepare_responses(df)
    assert list(data.user_ids) == ["u1", "u2", "u3"]
    assert list(data.item_ids) == ["i1", "i2"]
    assert data.offsets.tolist() == [0, 2, 3, 4]
    # codes are 2*item + correct, each person's responses in item order
    assert data.codes.tolist() == [1, 2, 1, 3]
    assert data.item_n.tolist() == [2, 2]
    assert data.item_correct.tolist() == [2, 1]
    assert excluded.empty


def test_integer_ids_sparse_range():
    df = _df([(10**12, 7, 1), (5, 10**9, 0), (5, 7, 0)])
    data, _ = prepare_responses(df)
    assert list(data.user_ids) == [5, 10**12]
    assert list(data.item_ids) == [7, 10**9]


def test_missing_columns():
    with pytest.raises(ValueError, match="lack columns"):
        prepare_responses(pd.DataFrame({"user_id": [1], "item": [1], "correct": [1]}))


def test_non_binary_names_items():
    df = _df([(1, "A", 1), (1, "B", 2), (2, "C", 0.5), (2, "A", 0)])
    with pytest.raises(ValueError, match=r"items 'B', 'C'"):
        prepare_responses(df)


def test_nan_correct_is_an_error_not_missing():
    df = _df([(1, "A", 1), (1, "B", np.nan)])
    with pytest.raises(ValueError, match="absent row"):
        prepare_responses(df)


def test_duplicates_named():
    df = _df([(1, "A", 1), (1, "A", 0), (2, "A", 1)])
    with pytest.raises(ValueError, match=r"duplicate .*\(1, 'A'\)"):
        prepare_responses(df)


def _small(n_users=60):
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_users):
        th = rng.normal()
        for j, b in enumerate([-1.0, 0.0, 1.0]):
            rows.append((u, f"q{j}", int(rng.random() < 1 / (1 + np.exp(-(th - b))))))
        rows.append((u, "easy", 1))
        rows.append((u, "hard", 0))
    return _df(rows)


def test_degenerate_items_raise_with_names():
    with pytest.raises(ValueError) as err:
        calibrate(_small(), "2pl")
    msg = str(err.value)
    assert "all responses correct: 'easy'" in msg
    assert "all responses incorrect: 'hard'" in msg


def test_degenerate_items_excluded_and_listed():
    fit = calibrate(_small(), "rasch", on_invalid="exclude", se=False)
    assert sorted(fit.excluded["item_id"]) == ["easy", "hard"]
    assert set(fit.excluded["reason"]) == {"all responses correct", "all responses incorrect"}
    assert list(fit.items.index) == ["q0", "q1", "q2"]


def test_min_responses():
    df = pd.concat([_small(), _df([(0, "rare", 1), (1, "rare", 0)])])
    with pytest.raises(ValueError, match="fewer than 10 responses: 'rare'"):
        calibrate(df.loc[~df.item_id.isin(["easy", "hard"])], "2pl")


def test_score_unknown_items_named():
    items = pd.DataFrame({"a": [1.0], "d": [0.0]}, index=pd.Index(["A"], name="item_id"))
    with pytest.raises(ValueError, match="without parameters: 'Z'"):
        score(_df([(1, "A", 1), (1, "Z", 0)]), items)


def test_wide_to_long_drops_only_missing():
    wide = pd.DataFrame({"A": [1, np.nan], "B": [0, 1]}, index=["u1", "u2"])
    long = wide_to_long(wide)
    assert len(long) == 3
    assert set(map(tuple, long.to_numpy().tolist())) == {("u1", "A", 1), ("u1", "B", 0), ("u2", "B", 1)}


def test_score_integer_ids_lookup():
    items = pd.DataFrame({"a": [1.0, 2.0], "d": [0.0, 1.0]}, index=pd.Index([10, 30], name="item_id"))
    ok = score(_df([(1, 30, 1), (1, 10, 0), (2, 30, 0)]), items)
    assert ok["n"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="without parameters: 20"):
        score(_df([(1, 10, 1), (1, 20, 0)]), items)
