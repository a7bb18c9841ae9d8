def test_every_item_excluded_is_a_clear_error():
    import pandas as pd
    import pytest

    from alt42_pipeline.irt import calibrate

    responses = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": ["a", "a", "a", "b"], "correct": [0, 1, 1, 1]})
    with pytest.raises(
        ValueError, match=r"no item can be calibrated: all 2 items are excluded \(fewer than 10 responses: 2\)"
    ):
        calibrate(responses, on_invalid="exclude")
