"""numba for the engine's kernels, with the kernels compiled into the image handed first.

Every module that defines a ``cache=True`` kernel imports ``njit``/``prange`` from here, so
:func:`precompile.seed` has copied the image's compiled kernels into this process's numba
cache before any kernel is first called (see :mod:`.precompile`)."""

import numba
from numba import njit, prange

from . import precompile

precompile.seed()

__all__ = ["njit", "numba", "prange"]
