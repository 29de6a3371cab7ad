"""Collectives on the graph: alpha-beta times from the links the traffic really crosses.

``time = alpha + beta``, summed over the phases of an algorithm. Beta is the bytes on
the busiest link divided by that link's bandwidth per direction, from the link loads
of :mod:`topo.routing`; alpha is the steps of each phase times the latency of the
longest path a step takes, plus one fixed overhead per collective call (the layout's
``collective_overhead`` of the scale-up fabric, or of the scale-out fabric when the
group spans domains).

Algorithms (M is the per-GPU buffer, n the group size):

- ``ring`` all-reduce: each GPU sends 2(n-1)/n M to the next in 2(n-1) steps;
  all-gather and reduce-scatter (n-1)/n M in n-1 steps.
- ``direct`` all-reduce, all-gather, reduce-scatter: the shards go as all-to-alls,
  every GPU to every other at once (reduce-scatter, then all-gather): the fast one on
  a full mesh, where a ring would use one link of seven.
- ``hierarchical`` (groups spanning several domains, the same count in each):
  reduce-scatter inside each domain, all-reduce (or the all-gather / reduce-scatter)
  of the 1/m shards across domains between GPUs at the same position, all-gather
  inside. Chosen when it is faster; the result says which ran and what the other
  would take.
- ``direct`` all-to-all: every GPU sends M/n to every other at once.
- ``pipelined chain`` broadcast: the root's M flows down the group order.
- ``pairwise`` p2p: GPU i sends M to GPU i + n/2 (for n = 2, one send).

Inside a switched domain and on a non-blocking fat tree these reproduce the textbook
factors: (n-1)/n M / B for all-gather, reduce-scatter and all-to-all, 2(n-1)/n M / B
for ring all-reduce (B the per-GPU bandwidth per direction).

What a call costs (the default; ``clean=True`` gives the bare link-rate alpha + beta):
the per-call latency measured on the fabric's link (nccl-tests' smallest-message time)
or the bare alpha if larger, plus each phase's beta over the share of link-rate time the
measurements reach at that message size (:func:`topo.kernels.collective_efficiency`).
The phases of a hierarchical collective are pipelined: the slowest phase plus the others'
time over the chunks in flight (``PIPELINE_DEPTH``). ``topo collective``
and the communication term of ``topo evaluate`` both call :func:`charge`. A result keeps
both: ``alpha_s`` and ``beta_s`` are the link-rate model's parts, ``latency_s`` and
``transfer_s`` what the call is charged, ``time_s`` their sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.errors import PlacementError
from topo.kernels import collective_basis, collective_efficiency, has_engine_curve
from topo.names import OPS
from topo.routing import Fabric, LinkLoads, all_to_all_loads, pair_loads

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "BUS_FACTOR",
    "OPS",
    "PIPELINE_DEPTH",
    "CollectiveResult",
    "LinkLoad",
    "LinkLoadReport",
    "Phase",
    "charge",
    "collective",
    "link_loads",
]

# Chunks in flight when the phases of a hierarchical collective pipeline (assumed; NCCL
# keeps several chunks per channel in flight).
PIPELINE_DEPTH = 8


def BUS_FACTOR(op: str, n: int) -> float:  # noqa: N802 - a table written as a function
    """nccl-tests' bus bandwidth factor: busbw = algbw x factor.

    Examples
    --------
    >>> BUS_FACTOR("all-reduce", 8)
    1.75
    """
    if n < 2:
        return 0.0
    return {
        "all-reduce": 2 * (n - 1) / n,
        "all-gather": (n - 1) / n,
        "reduce-scatter": (n - 1) / n,
        "all-to-all": (n - 1) / n,
    }.get(op, 1.0)


@dataclass(frozen=True, slots=True)
class Traffic:
    """The bytes one phase sends, on GPU indices of the fabric.

    `bytes_per_pair` [B] from each `src` to its `dst`, or between every ordered pair of
    `members` (an all-to-all).
    """

    bytes_per_pair: float
    src: np.ndarray | None = None
    dst: np.ndarray | None = None
    members: np.ndarray | None = None

    def rack_bytes(self, rack_of: np.ndarray, ridx: dict[int, int]) -> np.ndarray:
        """Bytes from each rack's GPUs to each rack's GPUs (rows: senders) [B]."""
        k = len(ridx)
        mat = np.zeros((k, k))
        if self.members is not None:
            c = np.bincount([ridx[int(r)] for r in rack_of[self.members]], minlength=k)
            mat = np.outer(c, c).astype(float) * self.bytes_per_pair
            np.fill_diagonal(mat, mat.diagonal() - c * self.bytes_per_pair)
            return mat
        if self.src is None or self.dst is None:
            return mat
        a = np.array([ridx[int(r)] for r in rack_of[self.src]], dtype=np.int64)
        b = np.array([ridx[int(r)] for r in rack_of[self.dst]], dtype=np.int64)
        np.add.at(mat, (a, b), self.bytes_per_pair)
        return mat


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of an algorithm: its traffic's busiest link and its alpha and beta.

    `loads` (every link's bytes) and `traffic` (who sends what) are kept for the link-load
    figure; they are not part of the JSON.
    """

    name: str
    steps: int
    alpha_s: float
    beta_s: float
    busiest_link: dict[str, Any]
    hops: int
    crosses_domains: bool = False
    loads: LinkLoads | None = field(default=None, repr=False, compare=False)
    traffic: Traffic | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class CollectiveResult:
    """A collective's time and where it comes from."""

    op: str
    gpus: int
    bytes_per_gpu: float
    algorithm: str
    time_s: float
    alpha_s: float
    beta_s: float
    busiest_link: dict[str, Any]
    algorithm_bandwidth_bytes_per_s: float
    bus_bandwidth_bytes_per_s: float
    domains_spanned: int
    racks_spanned: int
    phases: list[Phase]
    alternatives: dict[str, float] = field(default_factory=dict)  # algorithm -> time [s]
    clean_time_s: float = 0.0  # bare link-rate alpha + beta
    basis: str = "link rate"  # where the latency and bandwidth share come from
    latency_s: float = 0.0  # what the call pays: measured per-call latency (or alpha)
    transfer_s: float = 0.0  # and its transfer at the measured share of link rate

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the link loads are left out)."""
        return {
            "op": self.op,
            "gpus": self.gpus,
            "bytes_per_gpu": self.bytes_per_gpu,
            "algorithm": self.algorithm,
            "time_s": self.time_s,
            "alpha_s": self.alpha_s,
            "beta_s": self.beta_s,
            "busiest_link": self.busiest_link,
            "algorithm_bandwidth_bytes_per_s": self.algorithm_bandwidth_bytes_per_s,
            "bus_bandwidth_bytes_per_s": self.bus_bandwidth_bytes_per_s,
            "domains_spanned": self.domains_spanned,
            "racks_spanned": self.racks_spanned,
            "phases": [
                {
                    "name": p.name,
                    "steps": p.steps,
                    "alpha_s": p.alpha_s,
                    "beta_s": p.beta_s,
                    "hops": p.hops,
                    "busiest_link": p.busiest_link,
                }
                for p in self.phases
            ],
            "alternatives_s": self.alternatives,
            "clean_time_s": self.clean_time_s,
            "latency_s": self.latency_s,
            "transfer_s": self.transfer_s,
            "basis": self.basis,
        }


def _phase(
    name: str, loads: LinkLoads, steps: int, fabric: Fabric, traffic: Traffic | None = None
) -> Phase:
    """A phase's alpha (steps x its longest path's latency) and beta (busiest link)."""
    u, v, nbytes, bw = loads.busiest()
    beta = nbytes / bw if bw > 0 else 0.0
    alpha = steps * loads.max_latency_s
    link = {"u": u, "v": v, "bytes": nbytes, "bandwidth_bytes_per_s": bw}
    return Phase(
        name, steps, alpha, beta, link, loads.max_hops, loads.crosses_domains, loads, traffic
    )


def _overhead(fabric: Fabric, phases: list[Phase]) -> float:
    """The fixed cost of one call: the scale-out fabric's if any phase leaves a domain."""
    crosses = any(p.crosses_domains for p in phases)
    return fabric.overhead_out_s if crosses else fabric.overhead_up_s


def _ring(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return members, np.roll(members, -1)


def _rings(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concurrent rings, one per group."""
    src = [g for g in groups if len(g) > 1]
    if not src:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(src), np.concatenate([np.roll(g, -1) for g in src])


def _split_by_domain(fabric: Fabric, members: np.ndarray) -> list[np.ndarray] | None:
    """The members of each domain, in group order, if every domain has as many."""
    d = fabric.domain[members]
    uniq, first, inverse, counts = np.unique(
        d, return_index=True, return_inverse=True, return_counts=True
    )
    if len(uniq) < 2 or counts.min() != counts.max():
        return None
    # Domains in the order their first member comes; members in group order within each.
    rank = np.argsort(np.argsort(first))[inverse.reshape(-1)]
    by_domain = members[np.argsort(rank, kind="stable")].reshape(len(uniq), -1)
    return list(by_domain)


def _pairs(
    name: str, fabric: Fabric, src: np.ndarray, dst: np.ndarray, w: float, steps: int
) -> Phase:
    """A phase in which each src sends `w` bytes to its dst."""
    return _phase(name, pair_loads(fabric, src, dst, w), steps, fabric, Traffic(w, src, dst))


def _all_pairs(name: str, fabric: Fabric, members: np.ndarray, w: float) -> Phase:
    """A phase in which every member sends `w` bytes to every other."""
    loads = all_to_all_loads(fabric, members, w)
    return _phase(name, loads, 1, fabric, Traffic(w, members=members))


def _flat(op: str, fabric: Fabric, members: np.ndarray, M: float) -> list[Phase]:
    n = len(members)
    if op == "all-to-all":
        return [_all_pairs("all-to-all", fabric, members, M / n)]
    if op == "broadcast":
        return [_pairs("chain", fabric, members[:-1], members[1:], M, n - 1)]
    if op == "p2p":
        half = n // 2
        return [_pairs("send/recv", fabric, members[:half], members[half : 2 * half], M, 1)]
    src, dst = _ring(members)
    if op == "all-reduce":
        return [_pairs("ring all-reduce", fabric, src, dst, 2 * (n - 1) / n * M, 2 * (n - 1))]
    return [_pairs(f"ring {op}", fabric, src, dst, (n - 1) / n * M, n - 1)]


def _direct(op: str, fabric: Fabric, members: np.ndarray, M: float) -> list[Phase]:
    """Reduce-scatter and all-gather as all-to-alls of M/n shards: every link at once.

    Bandwidth-optimal on a full mesh (each GPU uses all its direct links) and in a
    switched domain; on a torus it is bounded by the bisection.
    """
    n = len(members)
    loads = all_to_all_loads(fabric, members, M / n)
    names = {"all-reduce": ["reduce-scatter", "all-gather"]}.get(op, [op])
    traffic = Traffic(M / n, members=members)
    return [_phase(f"direct {name}", loads, 1, fabric, traffic) for name in names]


def _hierarchical(op: str, fabric: Fabric, parts: list[np.ndarray], M: float) -> list[Phase]:
    m, D = len(parts[0]), len(parts)
    # Rails: the GPUs at the same position of every domain.
    rails = [np.array([p[k] for p in parts]) for k in range(m)]
    inner = _rings(parts) if m > 1 else None
    outer = _rings(rails)
    phases = []

    def in_domain(name: str) -> None:
        if inner is not None:
            phases.append(_pairs(name, fabric, *inner, (m - 1) / m * M, m - 1))

    if op in ("all-reduce", "reduce-scatter"):
        in_domain("reduce-scatter in domain")
    shard = M / m
    if op == "all-reduce":
        w = 2 * (D - 1) / D * shard
        phases.append(_pairs("all-reduce across domains", fabric, *outer, w, 2 * (D - 1)))
    else:  # all-gather / reduce-scatter of the shards across domains
        w = (D - 1) / D * shard
        phases.append(_pairs(f"{op} across domains", fabric, *outer, w, D - 1))
    if op in ("all-reduce", "all-gather"):
        in_domain("all-gather in domain")
    return phases


def _phase_op(name: str, op: str) -> str:
    """The op whose measurements a phase is charged by.

    A hierarchical collective's phases run as collectives of their own; the phases of
    the other algorithms are parts of the call's op.
    """
    if "domain" not in name:
        return op
    for known in ("reduce-scatter", "all-gather", "all-reduce"):
        if known in name:
            return known
    return op


def _phase_link(fabric: Fabric, crosses: bool) -> str:
    return fabric.out_link if crosses else fabric.up_link


def charge(
    op: str,
    nbytes: Any,
    alpha_bare: float,
    phases: list[tuple[str, Any, str]],
    latency_link: str,
    *,
    pipelined: bool = False,
    gpus: int = 8,
    runtime: str = "serving",
    memo: dict[tuple[str, str, str], tuple[float, np.ndarray]] | None = None,
    inside_link: str = "",
) -> tuple[Any, Any]:
    """Measured (alpha, beta) of one call from its bare parts; vectorised over `nbytes`.

    `phases` are (phase name, bare beta [s], link name). Alpha is the measured per-call
    latency of `latency_link` or the bare alpha if larger; a call that crosses domains
    (charged on a scale-out link) pays at least the latency its op measures inside one
    (`inside_link`, the layout's scale-up link): it does what a call inside a domain
    does, and more. (DeepEP's internode points fit a latency of 0, the all-to-all
    measured on NVLink takes 29-33 us a call: without the floor an expert all-to-all
    across racks cost less than one inside a rack.) Each phase's beta is divided by
    the share of link-rate time measured at this message size; pipelined phases cost the
    slowest plus the rest over the chunks in flight. `runtime`: whose timings apply --
    ``library`` (nccl-tests, rccl-tests), ``engine`` (a serving engine's own all-reduce
    kernel), ``xla``, or ``serving`` (the default: what a serving engine pays, the faster
    of its own all-reduce kernel and the library at each size, inside a scale-up domain).
    `memo`: curve look-ups by (link, op, runtime) kept between calls at the same `nbytes`
    and `gpus` (several algorithms of one collective read the same curves).
    """
    memo = {} if memo is None else memo
    args = (op, nbytes, alpha_bare, phases, latency_link, pipelined, gpus)
    if runtime != "serving":
        return _charge_with(*args, runtime, memo, inside_link)
    a, b = _charge_with(*args, "library", memo, inside_link)
    if op == "all-reduce" and has_engine_curve(latency_link, op):
        a2, b2 = _charge_with(*args, "engine", memo, inside_link)
        pick = np.asarray(a2 + b2) < np.asarray(a + b)
        a, b = np.where(pick, a2, a), np.where(pick, b2, b)
    return a, b


def curve_memos(
    asked: Sequence[tuple[tuple[Any, ...], np.ndarray]],
) -> list[dict[int, dict[tuple[str, str, str], tuple[float, np.ndarray]]]]:
    """Curve look-ups for :func:`charge` (``serving``) of many sets of lines at once.

    `asked`: (lines, message sizes) pairs, each line ``(op, alpha, hops, phases,
    latency_link, pipelined, gpus, inside_link)`` as :func:`topo.perf.CommModel.time`
    takes them.
    Every curve (link, op, runtime, group size) that their charges read is looked up
    once, over all their sizes laid end to end (element by element: each slice is the
    floats of its own look-up); each pair gets the memos its charges would fill, by
    group size.
    """
    want: dict[tuple[str, str, str, int], list[int]] = {}
    for at, (lines, _) in enumerate(asked):
        for op, _alpha, _hops, phases, latency_link, _pipe, n, inside in lines:
            runtimes = ["library"]
            if op == "all-reduce" and has_engine_curve(latency_link, op):
                runtimes.append("engine")
            keys = {(latency_link, op)} | {(link, _phase_op(name, op)) for name, _, link in phases}
            if inside and inside != latency_link:
                keys.add((inside, op))
            for link, of in keys:
                for runtime in runtimes:
                    users = want.setdefault((link, of, runtime, n), [])
                    if not users or users[-1] != at:
                        users.append(at)
    out: list[dict[int, dict[tuple[str, str, str], tuple[float, np.ndarray]]]] = [{} for _ in asked]
    for (link, of, runtime, n), users in want.items():
        sizes = [np.asarray(asked[i][1], dtype=float) for i in users]
        latency, share = collective_efficiency(link, of, np.concatenate(sizes), n, runtime)
        start = 0
        for i, m in zip(users, sizes, strict=True):
            part = share[start : start + m.size].reshape(m.shape)
            out[i].setdefault(n, {})[(link, of, runtime)] = (latency, part)
            start += m.size
    return out


def _charge_with(
    op: str,
    nbytes: Any,
    alpha_bare: float,
    phases: list[tuple[str, Any, str]],
    latency_link: str,
    pipelined: bool,
    gpus: int,
    runtime: str,
    memo: dict[tuple[str, str, str], tuple[float, np.ndarray]],
    inside_link: str = "",
) -> tuple[Any, Any]:
    M = np.asarray(nbytes, dtype=float)

    def curve(link: str, of: str) -> tuple[float, np.ndarray]:
        key = (link, of, runtime)
        if key not in memo:
            memo[key] = collective_efficiency(link, of, M, gpus, runtime)
        return memo[key]

    latency, _ = curve(latency_link, op)
    if inside_link and inside_link != latency_link:
        latency = max(latency, curve(inside_link, op)[0])
    alpha = np.maximum(alpha_bare, latency)
    parts = [np.asarray(beta) / curve(link, _phase_op(name, op))[1] for name, beta, link in phases]
    if not parts:
        return alpha, np.zeros_like(M)
    total = np.sum(parts, axis=0)
    if pipelined and len(parts) > 1:
        worst = np.max(parts, axis=0)
        return alpha, worst + (total - worst) / PIPELINE_DEPTH
    return alpha, total


def _charged(
    op: str, fabric: Fabric, algorithm: str, phases: list[Phase], M: float, n: int, runtime: str
) -> tuple[float, float]:
    crosses = any(p.crosses_domains for p in phases)
    # The measured per-call latency replaces the layout's assumed call overhead; the
    # steps' hop latencies stay (they grow with the group, beyond what was measured).
    alpha_bare = sum(p.alpha_s for p in phases)
    a, b = charge(
        op,
        M,
        alpha_bare,
        [(p.name, p.beta_s, _phase_link(fabric, p.crosses_domains)) for p in phases],
        _phase_link(fabric, crosses),
        pipelined=algorithm == "hierarchical",
        gpus=n,
        runtime=runtime,
        inside_link=fabric.up_link if crosses else "",
    )
    return float(a), float(b)


def _basis(
    fabric: Fabric, algorithm: str, phases: list[Phase], op: str, M: float, n: int, runtime: str
) -> str:
    """Which measured timings charged the call, in words."""
    crosses = any(p.crosses_domains for p in phases)
    link = _phase_link(fabric, crosses)
    if runtime != "serving":
        return (
            f"{runtime}: "
            + collective_basis(link, op, n, runtime)
            + _floor_basis(fabric, crosses, op, n, runtime)
        )
    which = "library"
    if op == "all-reduce" and has_engine_curve(link, op):
        lib = sum(_charged(op, fabric, algorithm, phases, M, n, "library"))
        eng = sum(_charged(op, fabric, algorithm, phases, M, n, "engine"))
        which = "engine" if eng < lib else "library"
    return (
        f"serving, {which} kernel: "
        + collective_basis(link, op, n, which)
        + _floor_basis(fabric, crosses, op, n, which)
    )


def _floor_basis(fabric: Fabric, crosses: bool, op: str, n: int, runtime: str) -> str:
    """Where a call across domains pays the latency measured inside one, in words."""
    inside = fabric.up_link
    if not crosses or not inside or inside == fabric.out_link:
        return ""
    outside, _ = collective_efficiency(fabric.out_link, op, 1.0, n, runtime)
    floor, _ = collective_efficiency(inside, op, 1.0, n, runtime)
    if floor <= outside:
        return ""
    where = collective_basis(inside, op, n, runtime).split(": ")[-1].removeprefix("measured ")
    return f"; latency at least as inside a domain, {where}"


def _members(fabric: Fabric, op: str, gpus: list[str]) -> np.ndarray:
    """The group's GPU indices, once each; a PlacementError for a bad op or group."""
    if op not in OPS:
        msg = f"op must be one of {', '.join(OPS)}, got {op!r}"
        raise PlacementError(msg)
    n = len(gpus)
    if n < 2:
        msg = f"a collective needs at least 2 GPUs, got {n}"
        raise PlacementError(msg)
    if len(set(gpus)) != n:
        msg = "the group lists a GPU twice"
        raise PlacementError(msg)
    try:
        return np.array([fabric.index[g] for g in gpus], dtype=np.int64)
    except KeyError as e:
        msg = f"unknown GPU {e.args[0]!r}"
        raise PlacementError(msg) from None


def _candidates(
    op: str, fabric: Fabric, members: np.ndarray, M: float, algorithm: str
) -> dict[str, list[Phase]]:
    """The phases of each algorithm `algorithm` allows for `op` on this group."""
    candidates: dict[str, list[Phase]] = {}
    parts = _split_by_domain(fabric, members)
    flat_name = {"all-to-all": "direct", "broadcast": "pipelined chain", "p2p": "pairwise"}.get(
        op, "ring"
    )
    if algorithm in ("auto", flat_name):
        candidates[flat_name] = _flat(op, fabric, members, M)
    if op in ("all-reduce", "all-gather", "reduce-scatter") and algorithm in ("auto", "direct"):
        candidates["direct"] = _direct(op, fabric, members, M)
    if op in ("all-reduce", "all-gather", "reduce-scatter") and algorithm in (
        "auto",
        "hierarchical",
    ):
        if parts is not None:
            candidates["hierarchical"] = _hierarchical(op, fabric, parts, M)
        elif algorithm == "hierarchical":
            msg = "hierarchical needs a group spread evenly over two or more domains"
            raise PlacementError(msg)
    if not candidates:
        msg = f"{op} has no algorithm {algorithm!r} (try auto or {flat_name})"
        raise PlacementError(msg)
    return candidates


def _cheapest(
    op: str,
    fabric: Fabric,
    candidates: dict[str, list[Phase]],
    M: float,
    n: int,
    *,
    clean: bool,
    runtime: str,
) -> tuple[str, dict[str, tuple[float, float]], dict[str, tuple[float, float]], dict[str, float]]:
    """The fastest candidate; each one's bare and charged (latency, transfer), and total."""
    bare: dict[str, tuple[float, float]] = {
        k: (sum(p.alpha_s for p in v) + _overhead(fabric, v), sum(p.beta_s for p in v))
        for k, v in candidates.items()
    }
    costs = (
        bare
        if clean
        else {k: _charged(op, fabric, k, v, M, n, runtime) for k, v in candidates.items()}
    )
    totals = {k: a + b for k, (a, b) in costs.items()}
    best = min(totals, key=lambda k: totals[k])
    return best, bare, costs, totals


def collective(
    G: nx.Graph | Fabric,
    op: str,
    gpus: list[str],
    bytes_per_gpu: float,
    *,
    algorithm: str = "auto",
    clean: bool = False,
    runtime: str = "serving",
) -> CollectiveResult:
    """Time one collective among `gpus` (in group order) with a per-GPU buffer of `bytes_per_gpu`.

    Parameters
    ----------
    G
        The layout's graph (or a :class:`Fabric` built from it, to reuse its index).
    op
        One of :data:`OPS`.
    gpus
        GPU node ids, in the order the algorithm visits them (ring order).
    bytes_per_gpu
        M [B]: the per-GPU buffer as nccl-tests counts it (all-gather: the gathered
        output; reduce-scatter: the input; all-to-all: the send buffer).
    algorithm
        ``auto`` (the fastest that applies), ``ring``, ``direct``, ``hierarchical``,
        or the only one an op has (``direct`` all-to-all, ``pipelined chain``
        broadcast, ``pairwise`` p2p).
    clean
        The bare link-rate alpha + beta (no measured latency or bandwidth share).
    runtime
        Whose measured timings charge the call (:func:`charge`): ``serving`` (default,
        what ``topo evaluate`` charges), ``library``, ``engine`` or ``xla``.

    Raises
    ------
    PlacementError
        For an unknown op, fewer than 2 GPUs, unknown GPUs, or a group that spans
        domains on a layout without a scale-out fabric.
    """
    fabric = G if isinstance(G, Fabric) else Fabric(G)
    members = _members(fabric, op, gpus)
    n = len(gpus)
    M = float(bytes_per_gpu)
    candidates = _candidates(op, fabric, members, M, algorithm)
    best, bare, costs, totals = _cheapest(
        op, fabric, candidates, M, n, clean=clean, runtime=runtime
    )
    phases = candidates[best]
    latency, transfer = costs[best]
    time_s = latency + transfer
    alpha, beta = bare[best]
    basis = "link rate (clean)" if clean else _basis(fabric, best, phases, op, M, n, runtime)
    worst = max(phases, key=lambda p: p.beta_s)
    algbw = M / time_s if time_s > 0 else 0.0
    return CollectiveResult(
        op=op,
        gpus=n,
        bytes_per_gpu=M,
        algorithm=best,
        time_s=time_s,
        alpha_s=alpha,
        beta_s=beta,
        busiest_link=worst.busiest_link,
        algorithm_bandwidth_bytes_per_s=algbw,
        bus_bandwidth_bytes_per_s=algbw * BUS_FACTOR(op, n),
        domains_spanned=len(set(fabric.domain[members].tolist())),
        racks_spanned=len(set(fabric.rack[members].tolist())),
        phases=phases,
        alternatives={k: v for k, v in totals.items() if k != best},
        clean_time_s=sum(bare[best]),
        basis=basis,
        latency_s=latency,
        transfer_s=transfer,
    )


@dataclass(frozen=True, slots=True)
class LinkLoad:
    """One loaded link of a collective.

    `u`, `v`: its ends (graph node ids); `bytes` [B] moved over it by every phase of the
    chosen algorithm; `bandwidth_bytes_per_s` [B/s, per direction]; `kind`, `medium`;
    `utilisation` [dimensionless]: bytes / (bandwidth x the call's charged time), above
    1 where more than the link rate moves in that time.
    """

    u: str
    v: str
    bytes: float
    bandwidth_bytes_per_s: float
    kind: str
    medium: str
    utilisation: float

    def to_dict(self) -> dict[str, Any]:
        """The link as JSON: the fields in order."""
        return {
            "u": self.u,
            "v": self.v,
            "bytes": self.bytes,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "kind": self.kind,
            "medium": self.medium,
            "utilisation": self.utilisation,
        }


@dataclass(frozen=True, slots=True)
class LinkLoadReport:
    """What a link-load figure draws (:func:`link_loads`).

    `collective`: the timed call; `edges`: every loaded link; `racks`: the group's rack
    indices; `rack_bytes` [B]: row rack sends to column rack, in `racks` order; `gpus`:
    the group; `basis`: how utilisation is reckoned, in words.
    """

    collective: CollectiveResult
    edges: tuple[LinkLoad, ...]
    racks: tuple[int, ...]
    rack_bytes: tuple[tuple[float, ...], ...]
    gpus: tuple[str, ...]
    basis: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON :func:`topo.plot.plot_links` draws."""
        return {
            "collective": self.collective.to_dict(),
            "edges": [e.to_dict() for e in self.edges],
            "racks": list(self.racks),
            "rack_bytes": [list(row) for row in self.rack_bytes],
            "gpus": list(self.gpus),
            "basis": self.basis,
        }


def link_loads(
    G: nx.Graph | Fabric,
    op: str,
    gpus: list[str],
    bytes_per_gpu: float,
    *,
    algorithm: str = "auto",
) -> LinkLoadReport:
    """What a link-load figure draws: every loaded link's bytes and busy share, racks' traffic.

    The collective is timed as :func:`collective` does; the loads are the sum of the
    phases of the algorithm it chose (the loads its time comes from), and a link's
    utilisation is its bytes over (bandwidth x the charged time of the whole call): above
    1 where the charged time is shorter than the link's bytes at its rate. The
    rack-to-rack matrix sums the bytes each phase's senders send to each rack.
    """
    fabric = G if isinstance(G, Fabric) else Fabric(G)
    result = collective(fabric, op, gpus, bytes_per_gpu, algorithm=algorithm)
    duration = result.time_s
    members = np.array([fabric.index[g] for g in gpus], dtype=np.int64)
    racks = sorted(set(fabric.rack[members].tolist()))
    ridx = {r: i for i, r in enumerate(racks)}
    mat = np.zeros((len(racks), len(racks)))
    total: dict[tuple[str, str], float] = {}
    for p in result.phases:
        if p.loads is not None:
            for key, nbytes in p.loads.edges().items():
                total[key] = total.get(key, 0.0) + nbytes
        if p.traffic is not None:
            mat = mat + p.traffic.rack_bytes(fabric.rack, ridx)
    Gr = fabric.G
    edges = []
    for (u, v), nbytes in total.items():
        a = Gr.edges[u, v]
        edges.append(
            LinkLoad(
                u=u,
                v=v,
                bytes=nbytes,
                bandwidth_bytes_per_s=a["bandwidth"],
                kind=a["kind"],
                medium=a["medium"],
                utilisation=nbytes / (a["bandwidth"] * duration) if duration > 0 else 0.0,
            )
        )
    return LinkLoadReport(
        collective=result,
        edges=tuple(edges),
        racks=tuple(racks),
        rack_bytes=tuple(tuple(row) for row in mat.tolist()),
        gpus=tuple(gpus),
        basis=(
            f"bytes of every phase of the {result.algorithm} algorithm / (link rate x the "
            f"call's charged time, {result.time_s * 1e3:.3g} ms); above 1: more than the link "
            "rate moves in that time"
        ),
    )
