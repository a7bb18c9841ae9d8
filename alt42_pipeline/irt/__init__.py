"""In-process IRT engine: calibration (Bock-Aitkin EM), scoring and linking.

Pure library (no Dagster).  Parametrisation as R mirt:
``P = c + (1 - c) * logistic(a * theta + d)``, ``theta ~ N(0, 1)``,
``b = -d / a``.

    from alt42_pipeline.irt import calibrate, score, link, rescale
    fit = calibrate(responses, model="2pl")        # "rasch", "1pl", "2pl", "3pl"
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
* ``scoring``, ``linking``, ``fit`` (AIC/BIC, S-X2 item fit), ``simulate``.

Numerical approach: the cost of MML-EM is the E-step, linear in the number
of observed responses times quadrature nodes.  Responses are stored once as
``int32`` codes ``2 * item + correct`` grouped by person, so one code indexes
a row of a precomputed ``log P`` / ``log(1 - P)`` table (items x nodes).  A
numba kernel (parallel over chunks of persons) sums each person's rows,
normalises the posterior and adds it back into per-thread expected-count
tables; no sparse-matrix products or atomics, and the item x node tables are
small enough for the M-step (per-item Fisher scoring) to be negligible.
"""

from . import precompile

precompile.seed()  # kernels compiled into the image, handed to this process's numba cache

from .calibrate import CalibrationResult, calibrate  # noqa: E402
from .data import wide_to_long  # noqa: E402
from .fit import item_fit  # noqa: E402
from .linking import LinkingConstants, link, rescale  # noqa: E402
from .scoring import score  # noqa: E402
from .simulate import simulate_items, simulate_responses  # noqa: E402

__all__ = [
    "CalibrationResult",
    "LinkingConstants",
    "calibrate",
    "item_fit",
    "link",
    "rescale",
    "score",
    "simulate_items",
    "simulate_responses",
    "wide_to_long",
]
