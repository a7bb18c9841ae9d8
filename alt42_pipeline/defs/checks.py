"""Asset-check results the assets compute over what they just wrote."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import pandas as pd


def keys_check(name: str, frame: pd.DataFrame, keys: Sequence[str]) -> dg.AssetCheckResult:
    """Keys are unique and non-null in the written rows."""
    nulls = int(frame[list(keys)].isna().any(axis=1).sum()) if len(frame) else 0
    dups = int(frame.duplicated(list(keys)).sum()) if len(frame) else 0
    return dg.AssetCheckResult(
        check_name=name,
        passed=nulls == 0 and dups == 0,
        metadata={"rows": len(frame), "null_keys": nulls, "duplicate_keys": dups, "keys": ", ".join(keys)},
    )


def rows_check(name: str, rows: int, minimum: int = 1) -> dg.AssetCheckResult:
    """At least ``minimum`` rows were written (an empty partition is suspicious)."""
    return dg.AssetCheckResult(
        check_name=name,
        passed=rows >= minimum,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": rows, "minimum": minimum},
    )
