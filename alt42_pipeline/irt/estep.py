"""E-step driver: quadrature grid and the expected-count tables.

Owns the per-chunk buffers so repeated EM iterations allocate nothing large.
"""

from __future__ import annotations

import numba
import numpy as np

from . import kernels
from .data import ResponseData


def quadrature(n_points: int = 41, theta_lim: tuple[float, float] = (-6.0, 6.0)):
    """Equally spaced nodes on ``theta_lim`` with normalised N(0,1) weights
    (the rectangular rule R mirt uses).  Returns ``(nodes, log_weights)``."""
    if n_points < 5:
        raise ValueError("quadpts must be at least 5")
    z = np.linspace(theta_lim[0], theta_lim[1], n_points)
    logw = -0.5 * z * z
    logw -= np.log(np.exp(logw).sum())
    return z, logw


def default_chunks(n_items: int, n_nodes: int, budget_bytes: float = 256e6) -> int:
    """Chunks of persons for the E-step: several per thread for load balance,
    fewer when the per-chunk count buffers (2 x items x nodes doubles) get big."""
    per_chunk = 2 * n_items * n_nodes * 8
    threads = numba.get_num_threads()
    return int(max(threads, min(16 * threads, budget_bytes // max(per_chunk, 1))))


class EStep:
    """Expected counts ``r`` (correct) and ``n`` (answered) per item x node.

    The per-person log-likelihood over the nodes is summed in float32 (half
    the memory traffic of the hot loop; relative error ~1e-6 on the
    posterior weights); posterior weights, counts and the marginal
    log-likelihood are accumulated in float64.
    """

    def __init__(self, data: ResponseData, n_nodes: int, n_chunks: int | None = None):
        self.data = data
        if n_chunks is None:
            n_chunks = default_chunks(data.n_items, n_nodes)
        self.bounds = kernels.chunk_bounds(data.offsets, n_chunks)
        nc = self.bounds.shape[0] - 1
        self.acc = np.empty((nc, 2 * data.n_items, n_nodes))
        self.node_tot = np.empty((nc, n_nodes))
        self.chunk_ll = np.empty(nc)

    def run(self, logtab: np.ndarray, logprior: np.ndarray):
        """Returns ``(r, n, node_total, loglik)`` for the given log tables."""
        # Chunks are handed to threads one at a time, so a thread slowed by
        # other work on the machine does not hold the others up.
        with numba.parallel_chunksize(1):
            kernels.estep(
                self.data.offsets, self.data.codes,
                np.ascontiguousarray(logtab, dtype=np.float32),
                np.ascontiguousarray(logprior, dtype=np.float32),
                self.bounds, self.acc, self.node_tot, self.chunk_ll,
            )
        acc = self.acc.sum(axis=0) if self.acc.shape[0] > 1 else self.acc[0]
        r = acc[1::2]
        n = acc[0::2] + r
        return r, n, self.node_tot.sum(axis=0), float(self.chunk_ll.sum())
