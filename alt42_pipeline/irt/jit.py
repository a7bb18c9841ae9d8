"""numba for the engine's kernels, with the kernels compiled into the image handed first.

Every module that defines a ``cache=True`` kernel imports ``njit``/``prange`` from here, so
:func:`seed` has copied the image's compiled kernels into this process's numba cache before
any kernel is first called. How they are compiled into the image: :mod:`.precompile`.
This module imports nothing of the engine, so the build-time script sits above the kernels."""

import shutil
from pathlib import Path

import numba
from numba import njit, prange

#: Where the image keeps the compiled kernels (written at build time, read-only at run time).
BAKED = Path(__file__).with_name("_compiled")
#: Marks a cache directory seeded from :data:`BAKED` (its content is the build's id).
MARKER = ".alt42-seeded"


def seed(cache_dir: str | Path | None = None, baked: Path = BAKED) -> bool:
    """Copy the baked kernels into ``cache_dir`` (default numba's ``NUMBA_CACHE_DIR``) unless
    they are there already; True when something was copied."""
    if cache_dir is None:
        from numba.core import config

        cache_dir = config.CACHE_DIR
    if not cache_dir or not baked.is_dir():
        return False
    target = Path(cache_dir)
    if target.resolve() == baked.resolve():
        return False
    stamp = (baked / MARKER).read_text() if (baked / MARKER).exists() else ""
    marker = target / MARKER
    if marker.exists() and marker.read_text() == stamp:
        return False
    shutil.copytree(baked, target, dirs_exist_ok=True)
    return True


seed()

__all__ = ["BAKED", "MARKER", "njit", "numba", "prange", "seed"]
