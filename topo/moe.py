"""MoE dispatch and combine: an all-to-all per MoE layer, costed on the graph.

Each of ``tokens_per_gpu`` tokens on a GPU goes to ``topk`` experts, spread uniformly
over the ``ep`` GPUs of its expert-parallel group; a selection that lands on the
sending GPU stays local. Dispatch moves ``tokens x topk x hidden x dispatch bytes``
per GPU, combine the same count at the combine dtype back. Both are uniform
all-to-alls over the EP group, timed by :func:`topo.collectives.collective` on the
links they cross, so the cost of leaving the scale-up domain comes from the layout's
own bandwidths, never from a rule such as "EP <= 8 stays in a node".

Notes
-----
Per GPU, a share 1/ep of the selections stays local, (m_d - 1)/ep goes to the other
members of its domain and (ep - m_d)/ep leaves the domain (m_d: group members in
the GPU's domain). Spread evenly over M domains that is (M-1)/M, and the slowdown
against a group inside one domain tends to (W_up / W_out) (M-1)/M per byte
(``reference/seed_formulas.md``, claim 11).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from topo.collectives import collective
from topo.errors import PlacementError
from topo.place import Plan, place
from topo.routing import Fabric

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["MoEResult", "moe_all_to_all"]


@dataclass(frozen=True, slots=True)
class MoEResult:
    """Dispatch and combine of one MoE layer on an EP group, with where the bytes go."""

    ep: int
    tokens_per_gpu: int
    hidden: int
    topk: int
    dispatch_bytes_per_gpu: float
    combine_bytes_per_gpu: float
    share_local: float  # of the selections, on the sending GPU
    share_in_domain: float  # to other GPUs of the sender's domain
    share_cross_domain: float
    share_cross_rack: float
    domains_spanned: int
    racks_spanned: int
    dispatch_time_s: float
    combine_time_s: float
    dispatch_busiest_link: dict[str, Any]
    per_byte_slowdown_cross_domain: float | None  # scale-up / scale-out bandwidth per GPU
    slowdown_vs_one_domain: float | None  # dispatch / the same buffer's a2a in one domain
    largest_ep_in_domain: int
    domain_hbm_capacity_bytes: float
    largest_layer_experts_in_domain: int | None  # experts of the given size one domain holds
    # The same ratio at link rate alone (bandwidth only): what per-call latencies and the
    # measured shares of link rate change at this message size.
    slowdown_at_link_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def moe_all_to_all(
    G: nx.Graph | Fabric,
    *,
    hidden: int,
    topk: int,
    tokens_per_gpu: int,
    ep: int,
    dispatch_bytes: float = 2.0,
    combine_bytes: float = 2.0,
    expert_bytes: float | None = None,
    strategy: str = "packed",
    clean: bool = False,
) -> MoEResult:
    """Cost one MoE layer's dispatch and combine on the first EP group of `ep` GPUs.

    Parameters
    ----------
    G
        The layout's graph, or its :class:`topo.routing.Fabric`.
    hidden, topk, tokens_per_gpu, ep
        Model width, experts per token, tokens on each GPU, expert-parallel degree.
    dispatch_bytes, combine_bytes
        Bytes per element sent in each phase (DeepSeek: FP8 dispatch = 1, BF16
        combine = 2).
    expert_bytes
        Bytes of one expert's weights, to say how many experts one domain holds.
    strategy
        ``packed`` or ``naive`` (see :func:`topo.place.place`).
    clean
        Bare link-rate times (default: the measured charge of
        :func:`topo.collectives.collective`).

    Raises
    ------
    PlacementError
        If a number is out of range or the group does not fit the layout.
    """
    _check_sizes(hidden=hidden, topk=topk, tokens_per_gpu=tokens_per_gpu, ep=ep)
    fabric = G if isinstance(G, Fabric) else Fabric(G)
    group = list(place(fabric, Plan(ep=ep, dp=ep), strategy=strategy).groups["ep"][0])
    members = np.array([fabric.index[g] for g in group])
    selections = tokens_per_gpu * topk * hidden
    m_dispatch = selections * dispatch_bytes
    m_combine = selections * combine_bytes
    t_d, t_c, busiest, slowdown, at_link_rate = _dispatch_combine(
        fabric, group, m_dispatch, m_combine, ep=ep, clean=clean
    )
    domain_size = len(fabric.members[int(fabric.domain[0])])
    up = max(fabric.gpu_bandwidth("scale_up"), default=0.0)
    out = max(fabric.gpu_bandwidth("scale_out"), default=0.0)
    hbm = fabric.hbm_capacity_bytes * domain_size
    return MoEResult(
        ep=ep,
        tokens_per_gpu=tokens_per_gpu,
        hidden=hidden,
        topk=topk,
        dispatch_bytes_per_gpu=m_dispatch,
        combine_bytes_per_gpu=m_combine,
        **_where_bytes_go(fabric, members),
        dispatch_time_s=t_d,
        combine_time_s=t_c,
        dispatch_busiest_link=busiest,
        per_byte_slowdown_cross_domain=up / out if out > 0 else None,
        slowdown_vs_one_domain=slowdown,
        slowdown_at_link_rate=at_link_rate,
        largest_ep_in_domain=domain_size,
        domain_hbm_capacity_bytes=hbm,
        largest_layer_experts_in_domain=int(hbm // expert_bytes) if expert_bytes else None,
    )


def _check_sizes(*, hidden: int, topk: int, tokens_per_gpu: int, ep: int) -> None:
    """A PlacementError for a size below 1 or beyond any real model."""
    for name, v in (
        ("hidden", hidden),
        ("topk", topk),
        ("tokens_per_gpu", tokens_per_gpu),
        ("ep", ep),
    ):
        if v < 1:
            msg = f"moe: {name} must be >= 1, got {v}"
            raise PlacementError(msg)
    if topk > 1024 or hidden > 1_000_000 or tokens_per_gpu > 10_000_000:
        msg = "moe: hidden, topk or tokens_per_gpu is beyond any real model"
        raise PlacementError(msg)


def _where_bytes_go(fabric: Fabric, members: np.ndarray) -> dict[str, Any]:
    """Shares of a GPU's selections kept, in its domain, across domains and racks; spans."""
    n = len(members)
    dom = fabric.domain[members]
    rack = fabric.rack[members]
    in_dom = np.array([np.sum(dom == d) for d in dom])
    in_rack = np.array([np.sum(rack == r) for r in rack])
    return {
        "share_local": 1.0 / n,
        "share_in_domain": float(np.mean(in_dom - 1)) / n,
        "share_cross_domain": float(np.mean(n - in_dom)) / n,
        "share_cross_rack": float(np.mean(n - in_rack)) / n,
        "domains_spanned": len(set(dom.tolist())),
        "racks_spanned": len(set(rack.tolist())),
    }


def _dispatch_combine(
    fabric: Fabric,
    group: list[str],
    m_dispatch: float,
    m_combine: float,
    *,
    ep: int,
    clean: bool,
) -> tuple[float, float, dict[str, Any], float | None, float | None]:
    """Dispatch and combine times, dispatch's busiest link, and its slowdown.

    The slowdown is against the same all-to-all inside one domain, charged and at link
    rate (None where there is no such all-to-all).
    """
    if len(group) <= 1:
        return 0.0, 0.0, {}, None, None
    dispatch = collective(fabric, "all-to-all", group, m_dispatch, clean=clean)
    combine = collective(fabric, "all-to-all", group, m_combine, clean=clean)
    t_d = dispatch.time_s
    slowdown = None
    at_link_rate = None
    # The same per-GPU buffer as an all-to-all inside one domain (of up to ep GPUs).
    domain_size = len(fabric.members[int(fabric.domain[0])])
    ref_size = min(ep, domain_size)
    if ref_size > 1:
        inside = [fabric.gpus[i] for i in fabric.members[int(fabric.domain[0])][:ref_size]]
        ref = collective(fabric, "all-to-all", inside, m_dispatch, clean=clean)
        slowdown = t_d / ref.time_s if ref.time_s > 0 else None
        if ref.beta_s > 0:  # beta_s is the link-rate part in either mode
            at_link_rate = dispatch.beta_s / ref.beta_s
    return t_d, combine.time_s, dispatch.busiest_link, slowdown, at_link_rate
