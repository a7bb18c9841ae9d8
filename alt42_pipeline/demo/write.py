"""Write a generated platform into the real source schemas, and its truth to files."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from ..sources.schemas import assessment_tables, moodle_tables
from ..warehouse.store import insert_frame
from .platform import Platform


def write_assessment(platform: Platform, engine: sa.Engine) -> dict[str, int]:
    """(Re)create the assessment tables and fill them; returns rows per table."""
    md = assessment_tables()
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        return {name: insert_frame(conn, md.tables[name], frame) for name, frame in platform.assessment.items()}


def write_moodle(platform: Platform, engine: sa.Engine, prefix: str = "mdl_") -> dict[str, int]:
    """(Re)create the Moodle tables under ``prefix`` and fill them; returns rows per table."""
    md = moodle_tables(prefix, platform.config.moodle_version)
    for version in (3, 4):  # whichever layout was written before
        moodle_tables(prefix, version).drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        return {
            name: insert_frame(conn, md.tables[f"{prefix}{name}"], frame) for name, frame in platform.moodle.items()
        }


def save_truth(platform: Platform, folder: Path) -> Path:
    """Keep the generating values (abilities, item parameters, scale) for recovery checks."""
    folder.mkdir(parents=True, exist_ok=True)
    platform.students.to_csv(folder / "students.csv", index=False)
    platform.items.to_csv(folder / "items.csv", index=False)
    cfg = platform.config
    meta = {
        "scale": platform.scale,
        "first_day": cfg.first_day.isoformat(),
        "last_day": cfg.last_day.isoformat(),
        "seed": cfg.seed,
        "students": cfg.students,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return folder
