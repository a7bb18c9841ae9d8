"""The categories-from-scores rule."""

import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt.categories import categories_from_scores


def _scores(item, values, counts, start=0):
    s = np.repeat(values, counts)
    return pd.DataFrame({"user_id": np.arange(start, start + s.size), "item_id": item, "score": s})


def test_distinct_observed_fractions_become_ordered_categories():
    df = _scores("q1", [0.0, 1 / 3, 2 / 3, 1.0], [20, 15, 12, 30])
    out, mapping = categories_from_scores(df, min_count=10)
    row = mapping.set_index("item_id").loc["q1"]
    assert row["n_categories"] == 4 and row["collapsed"] == "" and row["excluded"] == ""
    assert row["counts"] == [20, 15, 12, 30]
    np.testing.assert_array_equal(out["category"].to_numpy(), np.repeat([0, 1, 2, 3], [20, 15, 12, 30]))
    assert (out["correct"] == (out["category"] == 3)).all()


def test_sparse_categories_are_collapsed_and_recorded():
    df = _scores("q", [0.0, 0.25, 0.5, 0.75, 1.0], [40, 3, 25, 2, 30])
    out, mapping = categories_from_scores(df, min_count=10)
    row = mapping.iloc[0]
    assert row["n_categories"] == 3
    # the smallest first, each into its neighbour with fewer answers
    assert row["values"] == [[0.0], [0.25, 0.5, 0.75], [1.0]]
    assert row["counts"] == [40, 30, 30]
    assert row["collapsed"] == "0.75 (2 answers) into 0.5; 0.25 (3 answers) into 0.5/0.75"
    assert out.groupby("category").size().tolist() == [40, 30, 30]


def test_attainable_values_nobody_attained_are_collapsed_and_scores_round_down():
    df = _scores("q", [0.0, 0.5, 0.6, 1.0], [30, 20, 5, 30])
    out, mapping = categories_from_scores(df, min_count=5, attainable={"q": [0, 0.25, 0.5, 1]})
    row = mapping.iloc[0]
    # 0.6 counts as 0.5; 0.25 never attained -> merged into its smaller neighbour (0.5: 25 answers)
    assert row["values"] == [[0.0], [0.25, 0.5], [1.0]]
    assert row["counts"] == [30, 25, 30]
    assert "0.25 (0 answers) into 0.5" in row["collapsed"]


def test_max_categories_merges_the_smallest_adjacent_pairs():
    df = _scores("q", [0, 0.2, 0.4, 0.6, 0.8, 1.0], [50, 20, 20, 40, 40, 50])
    _, mapping = categories_from_scores(df, min_count=1, max_categories=4)
    assert mapping.iloc[0]["values"] == [[0.0], [0.2, 0.4, 0.6], [0.8], [1.0]]


def test_binary_and_degenerate_items():
    df = pd.concat([_scores("bin", [0.0, 1.0], [10, 20]), _scores("same", [1.0], [15], start=100)])
    out, mapping = categories_from_scores(df)
    m = mapping.set_index("item_id")
    assert m.loc["bin", "n_categories"] == 2 and m.loc["bin", "excluded"] == ""
    assert m.loc["same", "excluded"].startswith("one category")
    assert set(out["item_id"]) == {"bin"}
    assert out["correct"].tolist() == out["category"].tolist()


def test_bad_scores_raise_naming_items():
    df = _scores("q", [0.0, 1.5], [3, 1])
    with pytest.raises(ValueError, match="scores must be in \\[0, 1\\].*'q'"):
        categories_from_scores(df)
    with pytest.raises(ValueError, match="min_count"):
        categories_from_scores(_scores("q", [0.0, 1.0], [3, 1]), min_count=0)


def test_recorded_rule_maps_new_scores():
    from alt42_pipeline.irt.categories import apply_categories

    df = _scores("q", [0.0, 0.25, 0.5, 0.75, 1.0], [40, 3, 25, 2, 30])
    out, mapping = categories_from_scores(df, min_count=10)
    values = dict(zip(mapping["item_id"], mapping["values"]))
    np.testing.assert_array_equal(apply_categories(df, values), out["category"].to_numpy())
    new = pd.DataFrame({"item_id": ["q", "q", "q", "other"], "score": [0.3, 0.9, 1.0, 1.0]})
    assert apply_categories(new, values).tolist() == [1, 1, 2, -1]
    # values are recorded rounded (to 6 decimals): a third still maps onto its own category
    thirds = _scores("t", [0.0, 1 / 3, 2 / 3, 1.0], [20, 20, 20, 20])
    out, mapping = categories_from_scores(thirds)
    values = dict(zip(mapping["item_id"], mapping["values"]))
    np.testing.assert_array_equal(apply_categories(thirds, values), out["category"].to_numpy())
