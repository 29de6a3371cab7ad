"""Plans and placement: which GPU holds each rank of a TP x EP x PP x DP plan.

A plan has ``tp * pp * dp`` ranks. Expert parallelism reuses the same GPUs: in each
pipeline stage the ``tp * dp`` attention ranks are cut into expert-parallel groups of
``ep`` consecutive ranks (attention as TP x DP, experts as EP over the same GPUs), so
``ep`` must divide ``tp * dp`` and be a multiple or a divisor of ``tp``.

Two strategies:

``packed`` (topology-aware)
    Ranks nest TP innermost, then the data-parallel ranks of one EP group, then PP,
    then the rest of DP. Blocks of ``max(tp, ep)`` ranks are laid on the GPUs in
    topology order so that a block never straddles a scale-up domain when it fits in
    one, nor a rack when it fits in one (GPUs left over at a domain's end stay idle).
``naive``
    The same rank order laid on GPUs as a topology-blind scheduler hands them out:
    round-robin over the racks (rank 0 on rack 0, rank 1 on rack 1, ...).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.build import gpu_nodes
from topo.errors import PlacementError
from topo.routing import Fabric

if TYPE_CHECKING:
    from typing import TypeAlias

    import networkx as nx

    Gpus: TypeAlias = nx.Graph | Fabric  # GPUs read from a graph, or a fabric without one

__all__ = [
    "GroupReport",
    "Placement",
    "Plan",
    "first_groups",
    "group_order",
    "group_orders",
    "groups_of",
    "place",
    "pipeline_hops",
    "plan_ranks",
    "timed_note",
    "timed_ranks",
]

STRATEGIES = ("packed", "naive")
GROUP_KINDS = ("tp", "ep", "pp", "dp")


@dataclass(frozen=True, slots=True)
class Plan:
    """Degrees of tensor, expert, pipeline and data parallelism."""

    tp: int = 1
    ep: int = 1
    pp: int = 1
    dp: int = 1

    @property
    def world(self) -> int:
        """Ranks (GPUs) the plan uses: tp x pp x dp (EP reuses the same GPUs)."""
        return self.tp * self.pp * self.dp

    @property
    def dp_in_ep(self) -> int:
        """Data-parallel ranks inside one EP group (ep / tp when ep > tp, else 1)."""
        return self.ep // self.tp if self.ep > self.tp else 1

    def check(self) -> None:
        """Raise :class:`PlacementError` unless the degrees fit together."""
        for name in GROUP_KINDS:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                msg = f"plan: {name} must be a whole number >= 1, got {v!r}"
                raise PlacementError(msg)
        if self.ep > self.tp and self.ep % self.tp:
            msg = f"plan: ep {self.ep} must be a multiple of tp {self.tp} (or divide it)"
            raise PlacementError(msg)
        if self.ep < self.tp and self.tp % self.ep:
            msg = f"plan: ep {self.ep} must divide tp {self.tp} (or be a multiple of it)"
            raise PlacementError(msg)
        if (self.tp * self.dp) % self.ep:
            msg = (
                f"plan: ep {self.ep} must divide tp x dp = {self.tp * self.dp} "
                "(experts are split over the GPUs of one pipeline stage)"
            )
            raise PlacementError(msg)


@dataclass(frozen=True, slots=True)
class GroupReport:
    """How the groups of one kind (tp, ep, pp, dp) sit on the layout."""

    kind: str
    size: int
    count: int
    domains_spanned: int  # the most any one group spans
    racks_spanned: int
    bottleneck: str  # "scale_up" | "scale_out" | "none" (size 1)
    bottleneck_bandwidth_per_gpu_bytes_per_s: float  # the least any group gets
    first_group: tuple[str, ...]
    groups_across_domains: int = 0  # groups of more than one domain


@dataclass(frozen=True, slots=True)
class Placement:
    """Rank -> GPU, and the groups of each kind as GPU ids."""

    plan: Plan
    strategy: str
    ranks: tuple[str, ...]  # ranks[r] is the GPU of rank r
    groups: dict[str, tuple[tuple[str, ...], ...]]
    reports: tuple[GroupReport, ...]
    gpus_total: int
    gpus_idle_in_span: int  # GPUs skipped to keep blocks inside domains

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the groups themselves are left out: use `ranks`)."""
        return {
            "plan": {k: getattr(self.plan, k) for k in GROUP_KINDS},
            "strategy": self.strategy,
            "gpus_used": len(self.ranks),
            "gpus_total": self.gpus_total,
            "gpus_skipped_for_alignment": self.gpus_idle_in_span,
            "groups": [
                {
                    "kind": r.kind,
                    "size": r.size,
                    "count": r.count,
                    "domains_spanned": r.domains_spanned,
                    "racks_spanned": r.racks_spanned,
                    "bottleneck": r.bottleneck,
                    "bottleneck_bandwidth_per_gpu_bytes_per_s": (
                        r.bottleneck_bandwidth_per_gpu_bytes_per_s
                    ),
                    "groups_across_domains": r.groups_across_domains,
                    "first_group": list(r.first_group[:16]),
                }
                for r in self.reports
            ],
            "ranks": list(self.ranks),
        }


def _coords(plan: Plan, rank: int) -> tuple[int, int, int]:
    """(tp_i, pp_i, dp_i) of a rank in topo's nesting: tp, dp-in-EP, pp, dp-rest."""
    dpi = plan.dp_in_ep
    tp_i, rest = rank % plan.tp, rank // plan.tp
    dpin_i, rest = rest % dpi, rest // dpi
    pp_i, dpout_i = rest % plan.pp, rest // plan.pp
    return tp_i, pp_i, dpin_i + dpi * dpout_i


def group_order(plan: Plan) -> dict[str, list[list[int]]]:
    """The ranks of every group of each kind, in rank order.

    Examples
    --------
    >>> group_order(Plan(tp=2, pp=2))["pp"]
    [[0, 2], [1, 3]]
    """
    keys: dict[str, dict[tuple[int, ...], list[int]]] = {k: {} for k in GROUP_KINDS}
    for r in range(plan.world):
        tp_i, pp_i, dp_i = _coords(plan, r)
        stage_pos = tp_i + plan.tp * dp_i  # position among the tp x dp GPUs of a stage
        keys["tp"].setdefault((pp_i, dp_i), []).append(r)
        keys["ep"].setdefault((pp_i, stage_pos // plan.ep), []).append(r)
        keys["pp"].setdefault((tp_i, dp_i), []).append(r)
        keys["dp"].setdefault((tp_i, pp_i), []).append(r)
    return {k: list(v.values()) for k, v in keys.items()}


def _packed_positions(G: Gpus, plan: Plan) -> tuple[list[int], int]:
    """GPUs for ranks 0..world-1, blocks kept inside domains and racks where they fit.

    The GPUs as positions in the GPU list, and how many were skipped to keep blocks there.
    """
    _, _, domain_size, rack_size = _attrs(G)
    n = len(_gpu_list(G))
    positions, skipped = _pack(n, domain_size, rack_size, max(plan.tp, plan.ep), plan.world)
    return list(positions), skipped


@functools.lru_cache(maxsize=4096)
def _pack(
    n: int, domain_size: int, rack_size: int, block: int, world: int
) -> tuple[tuple[int, ...], int]:
    """:func:`_packed_positions` by its numbers alone (fabrics of one shape share it)."""
    out: list[int] = []
    skipped = 0
    i = 0
    while len(out) < world and i < n:
        if block <= domain_size:
            left = domain_size - i % domain_size
            if left < block:  # the block would straddle two domains: leave these idle
                skipped, i = skipped + left, i + left
                continue
        else:
            if i % domain_size:  # a block bigger than a domain starts on a domain
                left = domain_size - i % domain_size
                skipped, i = skipped + left, i + left
                continue
            left = rack_size - i % rack_size
            if block <= rack_size and left < block:  # ... and stays in one rack
                skipped, i = skipped + left, i + left
                continue
        take = range(i, min(i + block, n))
        out.extend(take)
        i += len(take)
    return tuple(out), skipped


_NAIVE: weakref.WeakKeyDictionary[Gpus, list[int]] = weakref.WeakKeyDictionary()


def _naive_positions(G: Gpus) -> list[int]:
    """GPUs round-robin over racks, as a scheduler that knows no topology hands them out."""
    if G not in _NAIVE:
        _NAIVE[G] = _round_robin(G)
    return _NAIVE[G]


def _round_robin(G: Gpus) -> list[int]:
    _, rack, _, _ = _attrs(G)
    by_rack: dict[int, list[int]] = {}
    for i, g in enumerate(_gpu_list(G)):
        by_rack.setdefault(rack[g], []).append(i)
    racks = [by_rack[r] for r in sorted(by_rack)]
    return [r[i] for i in range(max(len(r) for r in racks)) for r in racks if i < len(r)]


def place(G: Gpus, plan: Plan, *, strategy: str = "packed") -> Placement:
    """Map every rank of `plan` to a GPU of the graph (or of a :class:`Fabric`).

    Raises
    ------
    PlacementError
        If the plan's degrees do not fit together, the strategy is unknown, or the
        plan needs more GPUs than the layout has.
    """
    _check(G, plan, strategy)
    total = len(_gpu_list(G))
    ranks, skipped = _rank_gpus(G, plan, strategy)
    orders = _order_arrays(plan)
    names = np.empty(len(ranks), dtype=object)
    names[:] = ranks
    groups = {k: tuple(map(tuple, names[o].tolist())) for k, o in orders.items()}
    up, out = _bandwidths(G)
    dom, rack, _, _ = _attrs(G)
    per_rank = (
        np.array([dom[g] for g in ranks]),
        np.array([rack[g] for g in ranks]),
        np.array([up[g] for g in ranks], dtype=float),
        np.array([out[g] for g in ranks], dtype=float),
    )
    reports = tuple(_report(k, orders[k], groups[k], per_rank) for k in GROUP_KINDS)
    return Placement(plan, strategy, tuple(ranks), groups, reports, total, skipped)


def _rank_gpus(G: Gpus, plan: Plan, strategy: str) -> tuple[tuple[str, ...], int]:
    """The GPU of every rank, and the GPUs skipped to keep blocks inside domains."""
    at, skipped = _kept_ranks(G, plan, strategy)
    names = _NAMES.setdefault(G, {})
    key = (strategy, max(plan.tp, plan.ep), plan.world)  # as _kept_ranks keys them
    got = names.get(key)
    if got is None:
        gpus = _gpu_list(G)
        got = names[key] = tuple(gpus[i] for i in at.tolist())
    return got, skipped


def _kept_ranks(G: Gpus, plan: Plan, strategy: str) -> tuple[np.ndarray, int]:
    """Each rank's position in the GPU list (read-only), and the GPUs skipped.

    Kept per graph (or fabric) by what they depend on: the strategy, the block
    (max(tp, ep)) and the world; so are the GPUs' names (:func:`_rank_gpus`).
    """
    kept = _RANKS.setdefault(G, {})
    key = (strategy, max(plan.tp, plan.ep), plan.world)
    got = kept.get(key)
    if got is None:
        positions, skipped = _ranks_of(G, plan, strategy)
        at = np.array(positions, dtype=np.int64)
        at.flags.writeable = False
        got = kept[key] = (at, skipped)
    return got


_RANKS: weakref.WeakKeyDictionary[Gpus, dict[tuple[str, int, int], tuple[np.ndarray, int]]] = (
    weakref.WeakKeyDictionary()
)
_NAMES: weakref.WeakKeyDictionary[Gpus, dict[tuple[str, int, int], tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def _ranks_of(G: Gpus, plan: Plan, strategy: str) -> tuple[list[int], int]:
    if strategy == "packed":
        positions, skipped = _packed_positions(G, plan)
        if len(positions) < plan.world:
            # Keeping blocks inside domains leaves too few GPUs: pack them tightly.
            return list(range(plan.world)), 0
        return positions, skipped
    return _naive_positions(G)[: plan.world], 0


def first_groups(
    G: nx.Graph | Fabric, plan: Plan, *, strategy: str = "packed"
) -> dict[str, tuple[str, ...]]:
    """The first group of each kind, as :func:`place` gives them (``groups[kind][0]``).

    Where every group of a kind is alike, all a plan's collectives need (they are timed
    on each kind's slowest group, :func:`timed_ranks`),
    without the reports on every group that :func:`place` builds; on a :class:`Fabric`
    made by :meth:`Fabric.from_layout`, without building the graph.
    """
    return groups_of(plan, plan_ranks(G, plan, strategy=strategy))


def plan_ranks(G: Gpus, plan: Plan, *, strategy: str = "packed") -> tuple[str, ...]:
    """The GPU of every rank (:attr:`Placement.ranks`), with :func:`place`'s checks."""
    _check(G, plan, strategy)
    return _rank_gpus(G, plan, strategy)[0]


def rank_positions(G: Gpus, plan: Plan, *, strategy: str = "packed") -> np.ndarray:
    """:func:`plan_ranks` as positions in the graph's (or fabric's) GPU list (read-only)."""
    _check(G, plan, strategy)
    return _kept_ranks(G, plan, strategy)[0]


def _check(G: Gpus, plan: Plan, strategy: str) -> None:
    """:func:`place`'s checks: the plan's degrees, the strategy, the GPUs it needs."""
    plan.check()
    if strategy not in STRATEGIES:
        msg = f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}"
        raise PlacementError(msg)
    _check_size(plan, len(_gpu_list(G)))


def groups_of(
    plan: Plan, ranks: tuple[str, ...], kinds: tuple[str, ...] = GROUP_KINDS
) -> dict[str, tuple[str, ...]]:
    """The first group of each kind of `plan` laid on `ranks` (the GPU of each rank)."""
    first = _first_orders(plan)
    return {k: tuple(map(ranks.__getitem__, first[k])) for k in kinds}


def first_ranks(plan: Plan) -> dict[str, tuple[int, ...]]:
    """The ranks of each kind's first group, in rank order (shared: do not change them)."""
    return _first_orders(plan)


def timed_ranks(
    plan: Plan, domains: np.ndarray, memo: dict[Any, Any] | None = None
) -> dict[str, tuple[int, ...]]:
    """The ranks of the group of each kind a plan's collectives are timed on: its slowest.

    `domains`: the scale-up domain of each rank. A plan's groups of one kind run at
    once, and its step waits for the slowest, so each kind is timed on the group that
    leaves its domain most: for ``tp`` and ``ep``, of the groups that span the most
    domains, the one with the fewest members in one domain (that member sends the most
    of its buffer over its NIC), the first of those; for ``pp``, the pipeline (its
    stages' ranks) with the most hops from a stage to the next that cross domains, the
    first of those (:func:`pipeline_hops` splits its hops). Where every group lies inside
    one domain, or all are alike, these are rank 0's groups (:func:`first_ranks`).
    Groups of ``tp`` and ``ep`` are runs of consecutive ranks; a pipeline's stages are
    ``tp x dp_in_ep`` ranks apart.

    `memo`: a dict kept with these domains, for plans that share them (the ranks where
    the domain changes, and each group size's answer). A kind none of whose groups holds
    such a change inside it has every group inside one domain.
    """
    first = first_ranks(plan)
    dom = np.asarray(domains)
    if len(dom) != plan.world:
        msg = f"timed_ranks: {len(dom)} domains for a plan of {plan.world} ranks"
        raise ValueError(msg)
    out = {"tp": first["tp"], "ep": first["ep"], "pp": first["pp"]}
    memo = {} if memo is None else memo
    if "cuts" not in memo:
        cuts = memo["cuts"] = (np.flatnonzero(dom[1:] != dom[:-1]) + 1).astype(np.int32)
        memo["rising"] = bool((dom[cuts] > dom[cuts - 1]).all())  # never back to a domain
    cuts = memo["cuts"]
    if not len(cuts):
        return out
    for kind in ("tp", "ep"):
        size = getattr(plan, kind)
        if size > 1 and ("run", size) not in memo:
            memo[("run", size)] = (
                0
                if not (cuts % size).any()
                else _slowest_by_cuts(cuts, size, plan.world // size)
                if memo["rising"]
                else _slowest_run(dom.reshape(-1, size))
            )
        if size > 1:
            g = memo[("run", size)]
            out[kind] = tuple(range(g * size, (g + 1) * size))
    stride = plan.tp * plan.dp_in_ep
    if plan.pp > 1:
        key = ("pp", stride, plan.pp)
        if key not in memo:
            memo[key] = (0, 0)
            if (cuts % (stride * plan.pp)).any():
                by_stage = dom.reshape(-1, plan.pp, stride)  # (replicas, stages, ranks)
                crossings = (by_stage[:, 1:, :] != by_stage[:, :-1, :]).sum(axis=1)
                memo[key] = np.unravel_index(int(np.argmax(crossings)), crossings.shape)
        o, j = memo[key]  # the first pipeline with the most hops across
        a = int(j) + stride * plan.pp * int(o)
        out["pp"] = tuple(range(a, a + stride * plan.pp, stride))
    return out


def pipeline_hops(stage_domains: Sequence[Any]) -> tuple[int, int | None, float]:
    """A pipeline's hops (stage i to i + 1) as the step charges them, from its stages' domains.

    Returns (the hop to time the slow hops on: the first across domains, else the
    first; a hop to time the rest on: the first inside one domain where some cross,
    else None; the share of hops the first stands for). A token passes every hop, so
    its time is the share x the first's + the rest x the second's, per hop.
    """
    hops = len(stage_domains) - 1
    across = [i for i in range(hops) if stage_domains[i] != stage_domains[i + 1]]
    if not across or len(across) == hops:
        return 0 if not across else across[0], None, 1.0
    inside = next(i for i in range(hops) if i not in across)
    return across[0], inside, len(across) / hops


def timed_note(plan: Plan, domains: np.ndarray) -> str:
    """In words, where a plan's groups of a kind differ and which :func:`timed_ranks` times.

    The tp or ep groups timed on another group than rank 0's, and pipelines with hops
    across domains; "" where there are neither.
    """
    timed, first = timed_ranks(plan, domains), first_ranks(plan)
    dom = np.asarray(domains)
    out = []
    for kind in ("tp", "ep"):
        got = timed[kind]
        if got == first[kind]:
            continue
        spans = _distinct_per_row(dom.reshape(-1, len(got)))
        lo, hi = int(spans.min()), int(spans.max())
        _, counts = np.unique(dom[list(got)], return_counts=True)
        across = f"{int((spans > 1).sum()):,} of {len(spans):,} across"
        out.append(
            f"{kind} groups span {lo if lo == hi else f'{lo}-{hi}'} domains ({across}): timed "
            f"on the slowest, ranks {got[0]}-{got[-1]} ({len(counts)} domains, "
            f"{counts.min()} of its GPUs in one)"
        )
    if plan.pp > 1:
        stride = plan.tp * plan.dp_in_ep
        by_stage = dom.reshape(-1, plan.pp, stride)  # (outer replicas, stages, ranks)
        crossing = (by_stage[:, 1:, :] != by_stage[:, :-1, :]).sum(axis=1)  # per pipeline
        if crossing.any():
            stages, hops, k = timed["pp"], plan.pp - 1, int(crossing.max())
            shown = ", ".join(map(str, stages[:3])) + (", ..." if len(stages) > 3 else "")
            across = "every hop" if k == hops else f"{k} of its {hops} hops"
            out.append(
                f"pp: {int((crossing > 0).sum()):,} of {crossing.size:,} pipelines cross "
                f"domains: timed on the pipeline of ranks {shown} ({across} across)"
            )
    return "; ".join(out)


def _slowest_by_cuts(cuts: np.ndarray, size: int, groups: int) -> int:
    """:func:`_slowest_run` of runs of `size` ranks from where the domain changes alone.

    For domains that only rise with the rank (no run goes back to a domain it left):
    a run spans one domain more than the cuts inside it, and its fewest members in one
    domain are its shortest stretch between them.
    """
    inner = cuts[cuts % size != 0]
    g = inner // size
    off = inner - g * size
    spans = 1 + np.bincount(g, minlength=groups)
    fewest = np.full(groups, size, dtype=np.int64)
    new = np.ones(len(g), dtype=bool)  # a group's first cut
    new[1:] = g[1:] != g[:-1]
    end = np.ones(len(g), dtype=bool)  # a group's last cut
    end[:-1] = new[1:]
    np.minimum.at(fewest, g[new], off[new])
    np.minimum.at(fewest, g[end], size - off[end])
    np.minimum.at(fewest, g[1:][~new[1:]], np.diff(off)[~new[1:]])
    return int(np.lexsort((fewest, -spans))[0])


def _slowest_run(rows: np.ndarray) -> int:
    """The group to time of `rows` (each group's members' domains), by position.

    Of the groups spanning the most domains, the first with the fewest members in one.
    """
    srt = np.sort(rows, axis=1)
    g, n = srt.shape
    edge = np.ones((g, n + 1), dtype=bool)  # where a run of one domain starts or ends
    edge[:, 1:-1] = srt[:, 1:] != srt[:, :-1]
    spans = edge[:, 1:-1].sum(axis=1) + 1
    at = np.flatnonzero(edge)  # in rows of n + 1 columns
    starts, lengths = at[:-1], np.diff(at)
    keep = starts % (n + 1) != n  # not a row's end to the next row's start
    fewest = np.full(g, n, dtype=np.int64)
    np.minimum.at(fewest, starts[keep] // (n + 1), lengths[keep])
    # Most domains first, then fewest members in one; lexsort is stable: the first wins.
    return int(np.lexsort((fewest, -spans))[0])


def _check_size(plan: Plan, total: int) -> None:
    if plan.world > total:
        msg = (
            f"plan tp {plan.tp} x pp {plan.pp} x dp {plan.dp} needs {plan.world} GPUs; "
            f"the layout has {total}"
        )
        raise PlacementError(msg)


def _gpu_list(G: Gpus) -> list[str]:
    """GPU ids in rank order, of a graph or a fabric."""
    return G.gpus if isinstance(G, Fabric) else gpu_nodes(G)


def group_orders(plan: Plan) -> dict[str, np.ndarray]:
    """Each kind's groups as rows of ranks (groups x size), in :func:`group_order`'s order.

    Shared between callers: do not change them.
    """
    return _order_arrays(plan)


@functools.lru_cache(maxsize=8192)
def _order_arrays(plan: Plan) -> dict[str, np.ndarray]:
    """:func:`group_order` as (groups x size) rank arrays, once per plan, by arithmetic.

    Each kind's groups are keyed by the coordinates its ranks share; groups come in the
    order their first rank does and hold their ranks in rank order, as in
    :func:`group_order` (the reference, compared in the tests).
    """
    keys = _group_keys(plan)
    return {k: _groups_by_key(keys[k]) for k in GROUP_KINDS}


@functools.lru_cache(maxsize=8192)
def _first_orders(plan: Plan) -> dict[str, tuple[int, ...]]:
    """The ranks of each kind's first group (rank 0's), in rank order, by arithmetic.

    This is ``_order_arrays(plan)[k][0]`` (compared in the tests) without a key for
    every rank. Rank ``r = t + tp (i + dpi (s + pp o))`` for tensor index t, data index
    i inside the EP group (dpi of them), stage s and data index o outside it (as
    :func:`_group_keys` splits it): the tensor and expert groups of rank 0 are its first
    tp and ep ranks, its pipeline holds the stages (t = i = o = 0) and its data group
    the replicas (t = s = 0). Kept (callers must not change it); the data group, up to
    the world's size, is worked out only when read (a plan's collectives never read it).
    """
    return _FirstOrders(plan)


class _FirstOrders(dict[str, tuple[int, ...]]):
    """:func:`_first_orders`' groups: the data-parallel one worked out when first read."""

    def __init__(self, plan: Plan) -> None:
        tp, pp, dpi = plan.tp, plan.pp, plan.dp_in_ep
        stage = tp * dpi  # ranks from one stage to the next
        super().__init__(
            tp=tuple(range(tp)), ep=tuple(range(plan.ep)), pp=tuple(range(0, stage * pp, stage))
        )
        self.plan = plan

    def __missing__(self, kind: str) -> tuple[int, ...]:
        if kind != "dp":
            raise KeyError(kind)
        p = self.plan
        tp, pp, dpi = p.tp, p.pp, p.dp_in_ep
        got = self["dp"] = tuple(
            tp * (i + dpi * pp * o) for o in range(p.dp // dpi) for i in range(dpi)
        )
        return got


def _group_keys(plan: Plan) -> dict[str, np.ndarray]:
    """Each rank's key for each kind: the coordinates its group's ranks share."""
    r = np.arange(plan.world, dtype=np.int64)
    dpi = plan.dp_in_ep
    tp_i, rest = r % plan.tp, r // plan.tp
    dpin_i, rest = rest % dpi, rest // dpi
    pp_i, dpout_i = rest % plan.pp, rest // plan.pp
    dp_i = dpin_i + dpi * dpout_i
    stage_pos = tp_i + plan.tp * dp_i
    return {
        "tp": pp_i * plan.dp + dp_i,
        "ep": pp_i * (plan.tp * plan.dp) + stage_pos // plan.ep,
        "pp": tp_i * plan.dp + dp_i,
        "dp": tp_i * plan.pp + pp_i,
    }


def _groups_by_key(key: np.ndarray) -> np.ndarray:
    """Ranks grouped by equal `key`: groups by first appearance, ranks in order."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    group_of = np.argsort(np.argsort(first, kind="stable"), kind="stable")[inverse]
    order = np.argsort(group_of, kind="stable")
    n_groups = len(first)
    return order.reshape(n_groups, len(key) // n_groups)


def _distinct_per_row(a: np.ndarray) -> np.ndarray:
    """How many different values each row of `a` holds."""
    if a.shape[1] < 2:
        return np.ones(a.shape[0], dtype=np.int64)
    srt = np.sort(a, axis=1)
    return np.asarray(1 + (srt[:, 1:] != srt[:, :-1]).sum(axis=1))


_BW: weakref.WeakKeyDictionary[Gpus, tuple[dict[str, float], dict[str, float]]] = (
    weakref.WeakKeyDictionary()
)


_ATTRS: weakref.WeakKeyDictionary[Gpus, tuple[dict[str, Any], dict[str, Any], int, int]] = (
    weakref.WeakKeyDictionary()
)


def _attrs(G: Gpus) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """Each GPU's domain and rack, and the GPUs of the first domain and rack, once per graph."""
    if G not in _ATTRS:
        gpus = _gpu_list(G)
        if isinstance(G, Fabric):
            dom = dict(zip(gpus, G.domain.tolist(), strict=True))
            rack = dict(zip(gpus, G.rack.tolist(), strict=True))
        else:
            dom = {g: G.nodes[g]["domain"] for g in gpus}
            rack = {g: G.nodes[g]["rack"] for g in gpus}
        d0, r0 = dom[gpus[0]], rack[gpus[0]]
        _ATTRS[G] = (
            dom,
            rack,
            sum(1 for g in gpus if dom[g] == d0),
            sum(1 for g in gpus if rack[g] == r0),
        )
    return _ATTRS[G]


def _bandwidths(G: Gpus) -> tuple[dict[str, float], dict[str, float]]:
    """Per-GPU scale-up and scale-out bandwidth, computed once per graph (or fabric)."""
    if G not in _BW:
        gpus = _gpu_list(G)
        if isinstance(G, Fabric):
            up, out = G.gpu_bandwidth("scale_up"), G.gpu_bandwidth("scale_out")
        else:
            from topo.stats import per_gpu_bandwidth  # graphs only: not at start-up

            up, out = per_gpu_bandwidth(G, "scale_up"), per_gpu_bandwidth(G, "scale_out")
        _BW[G] = (dict(zip(gpus, up, strict=True)), dict(zip(gpus, out, strict=True)))
    return _BW[G]


def _report(
    kind: str,
    order: np.ndarray,
    groups: tuple[tuple[str, ...], ...],
    per_rank: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> GroupReport:
    dom, rack, up, out = per_rank
    spans = _distinct_per_row(dom[order])
    domains = int(spans.max())
    racks = int(_distinct_per_row(rack[order]).max())
    size = order.shape[1]
    worst = float("inf")
    where = "none"
    if size >= 2:
        crosses = spans > 1
        least = np.where(crosses, out[order].min(axis=1), up[order].min(axis=1))
        i = int(np.argmin(least))  # the first group with the least bandwidth
        worst, where = float(least[i]), "scale_out" if crosses[i] else "scale_up"
    return GroupReport(
        kind=kind,
        size=size,
        count=len(groups),
        domains_spanned=domains,
        racks_spanned=racks,
        bottleneck=where,
        bottleneck_bandwidth_per_gpu_bytes_per_s=0.0 if where == "none" else worst,
        first_group=groups[0],
        groups_across_domains=int((spans > 1).sum()),
    )
