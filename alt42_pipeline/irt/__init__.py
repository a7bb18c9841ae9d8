"""In-process IRT engine: calibration (Bock-Aitkin EM), scoring and linking.

Pure library (no Dagster).  Parametrisation as R mirt:
``P = c + (1 - c) * logistic(a * theta + d)``, ``theta ~ N(0, 1)``,
``b = -d / a``.

    from alt42_pipeline.irt import calibrate, score, link, rescale
    fit = calibrate(responses, model="2pl")        # "rasch", "1pl", "2pl", "3pl"
    fit = calibrate(responses, model={"q7": "gpcm"}, default="2pl")  # mixed: "gpcm", "pcm", "grm"
    abilities = score(responses, fit.items, method="eap")   # "map", "ml"
    k = link(new_items, reference_items, method="stocking-lord")
    items_ref, abilities_ref = rescale(new_items, abilities, k)

``responses`` is long format (``user_id``, ``item_id``, ``correct``); a
missing response is an absent row.

Layout of the package (one job per module):

* ``model``: the item model everything else calls (response function, its
  log and information, reading item tables, which items cannot be
  calibrated); numpy only, also used by the health checks and report plots;
* ``data``: validation and coding of responses as CSR-by-person arrays;
* ``kernels``: numba kernels (E-step, EAP, Newton scoring, M-step per item,
  Louis information);
* ``estep``: quadrature and the E-step driver; ``mstep``: item and latent
  updates; ``calibrate``: the EM loop with SQUAREM and the result type;
* ``se``: item standard errors (observed information, Louis/Oakes);
* ``scoring``, ``linking``, ``fit`` (AIC/BIC, S-X2 item fit), ``simulate``;
* polytomous and mixed formats: ``polymodel`` (GPCM/PCM/GRM formulas, mixed items
  tables), ``polydata`` (categories coded one table row per category), ``polymstep``,
  ``polykernels``, ``poly`` (EM, Louis SEs, scoring), ``polylink``, ``polysim`` and
  ``categories`` (the rule from canonical scores to categories); ``calibrate``,
  ``score``, ``link`` and ``rescale`` dispatch to them for mixed requests and tables.

Numerical approach: the cost of MML-EM is the E-step, linear in the number
of observed responses times quadrature nodes.  Responses are stored once as
``int32`` codes ``2 * item + correct`` grouped by person, so one code indexes
a row of a precomputed ``log P`` / ``log(1 - P)`` table (items x nodes).  A
numba kernel (parallel over chunks of persons) sums each person's rows,
normalises the posterior and adds it back into per-thread expected-count
tables; no sparse-matrix products or atomics, and the item x node tables are
small enough for the M-step (per-item Fisher scoring) to be negligible.

Imports are lazy: ``from alt42_pipeline.irt import calibrate`` (or ``irt.score``) loads the
module that defines the name on first use, so importing the package, or its item model, does
not compile or load numba and scipy.stats (a second and more) in processes that never
estimate anything, like the code location loading its definitions.
"""

from __future__ import annotations

import importlib
import sys
import types

#: Public name -> the module of the package that defines it.
_EXPORTS = {
    "CalibrationResult": "result",
    "calibrate": "calibrate",
    "wide_to_long": "data",
    "item_fit": "fit",
    "sparse_item_fit": "fit",
    "LinkingConstants": "linking",
    "link": "linking",
    "rescale": "linking",
    "score": "scoring",
    "simulate_items": "simulate",
    "simulate_responses": "simulate",
    # polytomous and mixed formats (GPCM, PCM, GRM next to the 2PL)
    "categories_from_scores": "categories",
    "simulate_mixed_items": "polysim",
    "simulate_mixed_responses": "polysim",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """The import system binds each submodule to its package as an attribute; ``calibrate``
    is both a module and the function this package exports, and the function must win."""

    def __setattr__(self, name: str, value) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
