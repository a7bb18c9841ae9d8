"""No hidden warnings: the code location loads without a deprecated or superseded Dagster call
of ours, no module of ours installs a warning filter, and the suite turns such a call into an
error (pytest's ``filterwarnings`` in pyproject.toml)."""

from __future__ import annotations

import ast
import tomllib
import warnings
from pathlib import Path

import dagster as dg
import pytest

import alt42_pipeline

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(alt42_pipeline.__file__).parent


def _ours(warning: warnings.WarningMessage) -> bool:
    return Path(warning.filename).resolve().is_relative_to(PACKAGE)


def test_loading_the_code_location_warns_nothing_of_ours():
    from alt42_pipeline.definitions import defs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = defs()
        loaded.resolve_all_job_defs()
        loaded.resolve_asset_graph()
    ours = [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught if _ours(w)]
    assert not ours, "\n".join(ours)


def test_no_module_of_ours_filters_warnings():
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "alt42_pipeline_tests").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("filterwarnings", "simplefilter"):
                if path.name != Path(__file__).name:  # this test records warnings, it hides none
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"warning filters in our code: {offenders}"


def test_pytest_ignores_no_warning_and_errors_on_our_deprecations():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    filters = config.get("filterwarnings", [])
    assert not [f for f in filters if f.startswith("ignore")], filters
    assert "error::DeprecationWarning:alt42_pipeline" in filters
    assert "error::dagster.SupersessionWarning:alt42_pipeline" in filters


def test_a_deprecated_dagster_call_from_our_code_fails_the_suite():
    """The filter above is live: a deprecated call made from one of our modules is an error."""
    with pytest.raises(DeprecationWarning, match="partitions_def"):
        dg.define_asset_job(
            "deprecated_job",
            selection=dg.AssetSelection.all(),
            partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"),
        )
