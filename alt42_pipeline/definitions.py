"""The code location: every module of ``defs/`` autoloaded into one ``Definitions``.

``defs/`` holds Dagster only (one module per domain, ``resources.py`` and ``shared.py``);
each module's assets, checks, jobs, schedules and sensors are picked up by Dagster's
autoloader, so adding a definition is adding it to its domain's module. The tree is built
from the ``defs`` package itself rather than found through ``pyproject.toml``
(``dg.load_from_defs_folder``), so the code location loads the same way from a wheel in
the image, where no ``pyproject.toml`` lies beside the package.

Every job runs its steps in the run's own process (``in_process_executor``): our steps are
a chain (nothing to run side by side), and a step in a subprocess of its own would import
the code location again (seconds per step, for work that often takes less than one).
"""

import functools
from pathlib import Path

import dagster as dg

from . import defs as defs_package


@dg.definitions
def defs() -> dg.Definitions:
    return _build()


@functools.cache
def _build() -> dg.Definitions:
    """Built once per process: Dagster's CLI asks for the definitions several times per
    command (five for ``dagster job execute``), and each build walks the defs tree again."""
    tree = dg.ComponentTree.from_module(defs_module=defs_package, project_root=Path(__file__).resolve().parent.parent)
    return dg.Definitions.merge(tree.build_defs(), dg.Definitions(executor=dg.in_process_executor))
