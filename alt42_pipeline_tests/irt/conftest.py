import numpy as np
import pandas as pd
import pytest

# LSAT7 (Bock & Lieberman 1970): counts of the 32 patterns 00000..11111,
# item 1 as the highest bit.
LSAT7_COUNTS = [
    12,
    19,
    1,
    7,
    3,
    19,
    3,
    17,
    10,
    5,
    3,
    7,
    7,
    23,
    8,
    28,
    7,
    39,
    11,
    34,
    14,
    51,
    15,
    90,
    6,
    25,
    7,
    35,
    18,
    136,
    32,
    308,
]


def lsat7_patterns():
    pats = np.array([[(p >> (4 - k)) & 1 for k in range(5)] for p in range(32)])
    return pats, np.array(LSAT7_COUNTS)


@pytest.fixture(scope="session")
def lsat7():
    pats, counts = lsat7_patterns()
    x = np.repeat(pats, counts, axis=0)
    n = x.shape[0]
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n), 5),
            "item_id": np.tile([f"Item.{k}" for k in range(1, 6)], n),
            "correct": x.ravel(),
        }
    )
