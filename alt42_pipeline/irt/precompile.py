"""Compile the numba kernels ahead of time, into the image, and hand them to each process.

numba compiles a ``cache=True`` kernel the first time it is called and keeps the machine
code in its cache directory (``NUMBA_CACHE_DIR``). A run pod starts with an empty ``/tmp``,
so without this every calibration or rescore pod would compile again (about 11 s). So:

* at image build time, ``python -m alt42_pipeline.irt.precompile`` (with
  ``NUMBA_CACHE_DIR`` pointing at :data:`BAKED`, inside the package) calls every kernel
  through the engine's public functions, for every model and scoring method, on simulated
  data: the cache then holds each kernel for the argument types the pipeline uses;
* at run time, :func:`.jit.seed` (called by :mod:`.jit`, before any kernel module loads) copies the
  baked cache into the process's writable ``NUMBA_CACHE_DIR`` when that one lacks it; numba
  needs its cache directory writable, and the image's package directory is read-only.

``NUMBA_CPU_NAME=generic`` at build and run time makes the cached code independent of the
build machine's CPU (numba keys its cache on the CPU name and features). Outside the image
(:data:`BAKED` missing, or no ``NUMBA_CACHE_DIR``) :func:`seed` does nothing.
"""

from __future__ import annotations

from pathlib import Path

from .jit import BAKED, MARKER, seed

__all__ = ["BAKED", "MARKER", "main", "seed", "warm"]


def warm() -> list[str]:
    """Call every kernel once for each model and scoring method (compiling it into
    ``NUMBA_CACHE_DIR``); returns what was run."""
    import numpy as np

    from . import calibrate, link, rescale, score, simulate_items, simulate_responses

    done = []
    for model in ("rasch", "1pl", "2pl", "3pl"):
        items = simulate_items(12, model=model, seed=1)
        responses, _ = simulate_responses(items, 300, seed=2)
        responses = responses.astype({"item_id": str})
        items.index = items.index.astype(str)
        fit = calibrate(responses, model=model, on_invalid="exclude")
        for method in ("eap", "map", "ml"):
            score(responses, fit.items, method=method)
            score(responses, fit.items, method=method, prior_mean=0.1, prior_sd=1.1)
        constants = link(fit.items, items.loc[fit.items.index[:4]], method="stocking-lord")
        rescale(fit.items, score(responses, fit.items), constants)
        done.append(model)
    simulate_responses(simulate_items(10, seed=3), 50, design="random", items_per_user=5, seed=4)
    np.random.default_rng(0)
    return done


def main() -> None:
    import os
    import time

    started = time.perf_counter()
    models = warm()
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    if cache:
        Path(cache, MARKER).write_text(f"{time.time_ns()}\n")
    print(
        f"numba kernels compiled for {', '.join(models)} into {cache or '(no NUMBA_CACHE_DIR)'} "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
