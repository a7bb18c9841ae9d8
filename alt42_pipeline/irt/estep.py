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


class EStep:
    """Expected counts ``r`` (correct) and ``n`` (answered) per item x node.

    The log P tables are stored in float32 (half the memory traffic of the
    hot loop; a fixed relative perturbation of ~1e-8 per entry).  Sums are
    float64: summing in float32 makes the EM map rough at the 1e-5 level,
    which stalls convergence near a 1e-4 tolerance.  Counts accumulate in
    one buffer per thread.
    """

    def __init__(self, data: ResponseData, n_nodes: int, n_chunks: int | None = None):
        self.data = data
        if n_chunks is None:
            # enough chunks to balance threads, each worth a thread wake-up
            threads = numba.get_num_threads()
            n_chunks = int(np.clip(data.n_responses // 16384, threads, 32 * threads))
        self.bounds = kernels.chunk_bounds(data.offsets, n_chunks)
        self.n_nodes = n_nodes
        self.chunk_ll = np.empty(self.bounds.shape[0] - 1)
        self._alloc(numba.get_num_threads())

    def _alloc(self, threads: int):
        self.acc = np.zeros((threads, 2 * self.data.n_items, self.n_nodes))
        self.node_tot = np.zeros((threads, self.n_nodes))

    def run(self, logtab: np.ndarray, logprior: np.ndarray):
        """Returns ``(r, n, node_total, loglik)`` for the given log tables."""
        threads = numba.get_num_threads()
        if threads > self.acc.shape[0]:
            self._alloc(threads)
        else:
            self.acc[:threads] = 0.0
            self.node_tot[:threads] = 0.0
        # Chunks of persons are handed to threads one at a time, so a thread
        # slowed by other work on the machine does not hold the others up.
        with numba.parallel_chunksize(1):
            kernels.estep(
                self.data.offsets,
                self.data.codes,
                np.ascontiguousarray(logtab, dtype=np.float32),
                np.ascontiguousarray(logprior, dtype=np.float32),
                self.bounds,
                self.acc,
                self.node_tot,
                self.chunk_ll,
            )
        acc = self.acc[:threads].sum(axis=0) if threads > 1 else self.acc[0]
        r = acc[1::2]
        n = acc[0::2] + r
        return r, n, self.node_tot[:threads].sum(axis=0), float(self.chunk_ll.sum())
