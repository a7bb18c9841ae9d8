import numpy as np
import pandas as pd
import pytest

from alt42_pipeline.irt.model import (
    exclusion_reasons,
    item_arrays,
    item_information,
    log_response,
    response,
    total_information,
)

THETA = np.linspace(-4, 4, 17)[:, None]
A = np.array([0.6, 1.0, 2.2])
D = np.array([-1.0, 0.3, 1.5])
C = np.array([0.0, 0.15, 0.3])


@pytest.mark.parametrize("c", [None, C])
def test_information_is_the_fisher_information_of_the_response_function(c):
    # I = P'^2 / (P (1 - P)), with P' by central differences
    h = 1e-6
    slope = (response(THETA + h, A, D, c) - response(THETA - h, A, D, c)) / (2 * h)
    p = response(THETA, A, D, c)
    np.testing.assert_allclose(item_information(THETA, A, D, c), slope**2 / (p * (1 - p)), rtol=1e-6)
    np.testing.assert_allclose(
        total_information(THETA[:, 0], A, D, c), (slope**2 / (p * (1 - p))).sum(axis=1), rtol=1e-6
    )


@pytest.mark.parametrize("c", [None, C])
def test_log_response_is_the_log_of_the_response_function(c):
    log_p, log_q = log_response(THETA, A, D, c)
    p = response(THETA, A, D, c)
    np.testing.assert_allclose(np.exp(log_p), p, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_q), 1 - p, rtol=1e-9)


def test_item_tables_with_b_defaults_and_named_errors():
    a, d, c = item_arrays(pd.DataFrame({"a": [2.0, 0.5], "b": [1.0, -2.0]}, index=["x", "y"]))
    assert d.tolist() == [-2.0, 1.0] and c.tolist() == [0.0, 0.0]
    a, d, _ = item_arrays(pd.DataFrame({"b": [1.0]}, index=["x"]), default_a=1.0)
    assert (a.tolist(), d.tolist()) == ([1.0], [-1.0])
    _, _, c = item_arrays(pd.DataFrame({"a": [1.0, 1.0], "d": [0.0, 0.0], "c": [np.nan, 0.2]}), null_c_is_zero=True)
    assert c.tolist() == [0.0, 0.2]
    with pytest.raises(TypeError, match="items must be a DataFrame indexed by item_id"):
        item_arrays({"a": [1.0]})
    with pytest.raises(ValueError, match="items has duplicate ids: 'x'"):
        item_arrays(pd.DataFrame({"a": [1.0, 1.0], "d": [0.0, 0.0]}, index=["x", "x"]))
    with pytest.raises(ValueError, match="items need column 'a'"):
        item_arrays(pd.DataFrame({"d": [0.0]}))
    with pytest.raises(ValueError, match="items need column 'd' or 'b'"):
        item_arrays(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match=r"not finite or c outside \[0, 1\) for 'y', 'z'"):
        item_arrays(
            pd.DataFrame({"a": [1.0, np.inf, 1.0], "d": [0.0, 0.0, 0.0], "c": [0.2, 0.2, 1.0]}, index=["x", "y", "z"])
        )


def test_exclusion_reasons_put_too_few_responses_first():
    n = np.array([5, 5, 40, 40, 40])
    n_correct = np.array([5, 0, 40, 0, 17])
    assert exclusion_reasons(n, n_correct, 10).tolist() == [
        "fewer than 10 responses",
        "fewer than 10 responses",
        "all responses correct",
        "all responses incorrect",
        "",
    ]
    assert exclusion_reasons(n, n_correct, 10, degenerate=False).tolist()[2:] == ["", "", ""]
