"""E-step driver: the quadrature (the one place it is chosen) and the expected-count tables.

Quadrature: a rectangular rule on ``theta_lim`` with N(0, 1) weights (R mirt's), whose
spacing must stay below the width of each person's posterior, or sums over the nodes
stop approximating the integrals: a student with 2000 answers has a posterior SD near
0.04, far below the 0.3 spacing of 41 nodes on [-6, 6]. :func:`person_grids` therefore
gives each person the coarsest grid of a nested ladder (``quadpts``, ``2 quadpts - 1``,
...: the spacing halves at each rung) whose spacing is at most :data:`SPACING_PER_SD`
times a lower bound of that person's posterior SD, ``1 / sqrt(1 + sum of the maximum
information of the items they answered)`` (on the N(0, 1) scale of the nodes). On such a
grid the rectangular rule's error on a normal-shaped posterior is far below 1e-3 of its
mass. Persons with few answers stay on the base grid, so typical designs cost what they
did; heavy users get finer grids, each group of persons its own E-step, and the M-step
sums the expected counts over all groups' nodes (the tables are concatenated).

Owns the per-chunk buffers so repeated EM iterations allocate nothing large.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from . import kernels
from .data import ResponseData
from .model import item_information

#: Largest node spacing, in units of the lower bound of a person's posterior SD (see the
#: module docstring). The bound uses each item's maximum information, which overstates
#: the information at the person's ability, so the real posterior is wider.
SPACING_PER_SD = 1.75
#: Grids are built for a spacing this much finer than the check asks for (hysteresis): the
#: information bound of most persons of a design lies close together (with ~100 answers each
#: it is near the first rung for the bulk), so at a sharp threshold each refinement round
#: nudges the slopes and pushes a few more persons just over it, round after round. Persons
#: within 1% of a rung get the finer grid up front, and the check after a round asks only for
#: the nominal spacing, which small moves of the parameters no longer cross.
GRID_MARGIN = 1.01
#: Finest grid of the ladder, in multiples of the base spacing (1/2^7 of it).
MAX_REFINEMENT = 7


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


@dataclass
class Grid:
    """A group of persons sharing a quadrature grid: their indices in the full data, their
    responses alone (same item codes) and the grid's nodes and log weights."""

    persons: np.ndarray
    data: ResponseData
    z: np.ndarray
    logw: np.ndarray


def required_nodes(
    data: ResponseData, a, d, c, mean: float, sd: float, quadpts: int, theta_lim, margin: float = 1.0
) -> np.ndarray:
    """Per person, the number of nodes of the coarsest grid of the ladder fine enough for
    their posterior (see the module docstring), given item parameters ``a, d, c`` on the
    reporting scale and the latent ``mean, sd``; ``margin > 1`` asks for a spacing that much
    finer (see :data:`GRID_MARGIN`)."""
    zz = np.linspace(theta_lim[0], theta_lim[1], 241)
    a_z = np.asarray(a, dtype=float) * sd
    d_z = np.asarray(d, dtype=float) + np.asarray(a, dtype=float) * mean
    cc = None if c is None else np.asarray(c, dtype=float)
    imax = item_information(zz[:, None], a_z, d_z, cc).max(axis=0)
    lens = np.diff(data.offsets)
    info = np.zeros(data.n_users)
    has = lens > 0
    if data.n_responses:
        sums = np.add.reduceat(imax[data.codes >> 1], data.offsets[:-1][has])
        info[has] = sums
    post_sd = 1.0 / np.sqrt(1.0 + info)
    base_h = (theta_lim[1] - theta_lim[0]) / (quadpts - 1)
    level = np.ceil(np.log2(np.maximum(margin * base_h / (SPACING_PER_SD * post_sd), 1.0)))
    level = np.clip(level, 0, MAX_REFINEMENT).astype(np.int64)
    return (quadpts - 1) * 2**level + 1


def subset(data: ResponseData, persons: np.ndarray) -> ResponseData:
    """The responses of ``persons`` (indices) alone, in the same coding."""
    if persons.size == data.n_users:
        return data
    all_lens = np.diff(data.offsets)
    lens = all_lens[persons]
    offsets = np.zeros(persons.size + 1, dtype=data.offsets.dtype)
    np.cumsum(lens, out=offsets[1:])
    # a mask of one byte per response, not int64 positions: at 100M responses the positions
    # and their temporaries took 2.4 GB to copy the 0.4 GB of codes
    keep = np.zeros(data.n_users, dtype=bool)
    keep[persons] = True
    if np.any(np.diff(persons) <= 0):
        raise ValueError("persons must be increasing indices")
    return ResponseData(
        user_ids=data.user_ids[persons],
        item_ids=data.item_ids,
        offsets=offsets,
        codes=data.codes[np.repeat(keep, all_lens)],
        item_n=data.item_n,
        item_correct=data.item_correct,
    )


def person_grids(nodes: np.ndarray, data: ResponseData, theta_lim) -> list[Grid]:
    """Persons grouped by their number of nodes (from :func:`required_nodes`)."""
    grids = []
    for q in np.unique(nodes):
        persons = np.flatnonzero(nodes == q)
        z, logw = quadrature(int(q), theta_lim)
        grids.append(Grid(persons, subset(data, persons), z, logw))
    return grids


class GridEStep:
    """The E-step over the persons' grids: expected counts on the concatenated nodes of all
    grids (the M-step takes them as one table), posterior mass per node, log-likelihood."""

    def __init__(self, grids: list[Grid]):
        self.grids = grids
        self.steps = [EStep(g.data, g.z.size) for g in grids]
        self.z = np.concatenate([g.z for g in grids])

    @property
    def nodes(self) -> np.ndarray:
        """Per person of the full data, the number of nodes of their grid."""
        n = sum(g.persons.size for g in self.grids)
        out = np.empty(n, dtype=np.int64)
        for g in self.grids:
            out[g.persons] = g.z.size
        return out

    def run(self, log_tables, mean: float, sd: float):
        """``log_tables(theta)`` gives the log P table at abilities ``theta``; returns
        ``(r, n, node_total, loglik, theta)`` with ``theta = mean + sd * z`` the nodes of all
        grids in order."""
        rs, ns, tots, ll = [], [], [], 0.0
        for g, step in zip(self.grids, self.steps):
            r, n, tot, lg = step.run(log_tables(mean + sd * g.z), g.logw)
            rs.append(r)
            ns.append(n)
            tots.append(tot)
            ll += lg
        if len(rs) == 1:
            return rs[0], ns[0], tots[0], ll, mean + sd * self.z
        return np.hstack(rs), np.hstack(ns), np.concatenate(tots), ll, mean + sd * self.z
