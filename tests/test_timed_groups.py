"""A plan's collectives are timed on its slowest group of each kind, not on rank 0's.

Groups of one kind run at once and the step waits for the slowest. Where packed placement
cannot keep every group inside a domain (32-GPU EP groups on 1,152 GPUs of 72-GPU racks:
ranks 64-95 straddle two), the groups that leave their domain most set the time.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.cli import main
from topo.evaluation import evaluate, plan_parts
from topo.fidelity import DEFAULT
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import (
    Workload,
    _comm_of,
    comm_floor,
    comm_model,
    decode,
    decode_tpots,
    floor_steps,
    plan_comm,
)
from topo.place import (
    Plan,
    first_ranks,
    group_orders,
    pipeline_hops,
    place,
    timed_note,
    timed_ranks,
)
from topo.routing import Fabric

RACKS_OF_72 = np.arange(1152) // 72  # 16 racks of 72 GPUs, ranks laid in order


def test_the_expert_group_timed_is_the_one_with_fewest_gpus_in_one_domain() -> None:
    # Groups of 32 on racks of 72: 0-31 and 32-63 sit in rack 0; 64-95 holds 64-71 (8)
    # in rack 0 and 72-95 (24) in rack 1; 128-159 splits 16/16; 192-223 splits 24/8.
    # Both 64-95 and 192-223 leave a lone 8 GPUs sending 24/32 of their buffer out:
    # the first of them.
    got = timed_ranks(Plan(tp=1, ep=32, dp=1152), RACKS_OF_72)
    assert got["ep"] == tuple(range(64, 96))
    assert got["tp"] == (0,)
    assert got["pp"] == (0,)


def test_the_pipeline_timed_is_the_first_with_the_most_hops_across() -> None:
    # tp 1 x ep 2 x pp 16 x dp 72: stages are tp x ep/tp = 2 ranks apart; each block of
    # 32 ranks holds 2 pipelines (even and odd ranks). Blocks 0 and 1 (ranks 0-63) lie in
    # rack 0; block 2 (ranks 64-95) holds rack 0's 64-71 and rack 1's 72-95, so its even
    # pipeline 64, 66, ..., 94 hands on from stage 3 (70) to stage 4 (72) across racks.
    # Blocks 2, 4 and 6 of every 9 (288 ranks, 4 racks) straddle: 12 of 36, 24 pipelines.
    plan = Plan(tp=1, ep=2, pp=16, dp=72)
    got = timed_ranks(plan, RACKS_OF_72)
    assert got["pp"] == tuple(range(64, 96, 2))
    assert got["ep"] == (0, 1)  # pairs never straddle racks of 72
    # Hop 3 across; hop 0 stands for the 14 inside.
    assert pipeline_hops(RACKS_OF_72[list(got["pp"])].tolist()) == (3, 0, 1 / 15)
    assert timed_note(plan, RACKS_OF_72) == (
        "pp: 24 of 72 pipelines cross domains: timed on the pipeline of ranks 64, 66, 68, "
        "... (1 of its 15 hops across)"
    )


def test_pipeline_hops_split_a_pipeline_into_hops_across_and_inside() -> None:
    assert pipeline_hops([0, 0, 1, 1]) == (1, 0, 1 / 3)
    assert pipeline_hops([0, 1, 2]) == (0, None, 1.0)  # every hop across
    assert pipeline_hops([5, 5, 5]) == (0, None, 1.0)  # every hop inside
    assert pipeline_hops([0, 0, 1, 1, 2]) == (1, 0, 0.5)
    # tp 4 x pp 2 on two 4-GPU domains: each tp rank's pipeline hops from one to the next.
    assert timed_note(Plan(tp=4, pp=2), np.array([0] * 4 + [1] * 4)) == (
        "pp: 4 of 4 pipelines cross domains: timed on the pipeline of ranks 0, 4 (every hop across)"
    )


@pytest.mark.parametrize(
    "plan",
    [Plan(tp=8, ep=8, dp=144), Plan(tp=4, ep=1, pp=2, dp=144), Plan(tp=1, ep=72, dp=1152)],
)
def test_groups_that_never_straddle_are_timed_on_rank_0s(plan: Plan) -> None:
    first = first_ranks(plan)
    got = timed_ranks(plan, RACKS_OF_72)
    assert got["tp"] == first["tp"]
    assert got["ep"] == first["ep"]
    assert got["pp"] == first["pp"]
    assert timed_note(plan, RACKS_OF_72) == ""


def test_timed_ranks_checks_its_domains() -> None:
    with pytest.raises(ValueError, match="1151 domains for a plan of 1152 ranks"):
        timed_ranks(Plan(tp=1, ep=32, dp=1152), RACKS_OF_72[:-1])


def _run_stats(row: np.ndarray) -> tuple[int, int]:
    """(domains a group spans, fewest of its members in one), written out."""
    counts = [int((row == d).sum()) for d in sorted(set(row.tolist()))]
    return len(counts), min(counts)


@settings(max_examples=150, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    ep_mult=st.sampled_from([1, 2, 3, 4]),
    pp=st.sampled_from([1, 2, 3, 4]),
    outer=st.integers(1, 6),
    domain=st.integers(1, 40),
    offset=st.integers(0, 39),
    wrap=st.sampled_from([0, 2, 3]),
)
def test_timed_groups_are_the_slowest_of_the_reference_groups(
    tp: int, ep_mult: int, pp: int, outer: int, domain: int, offset: int, wrap: int
) -> None:
    """Against :func:`topo.place.group_orders` (every group, by keys): the timed tp and
    ep groups span the most domains, with the fewest members in one, the first such;
    the timed pipeline has the most hops across domains, the first such. Domains that
    rise with the rank (packed) are read from where they change; `wrap` makes them
    come back (as round-robin placement does), read group by group."""
    ep = tp * ep_mult
    plan = Plan(tp=tp, ep=ep, pp=pp, dp=ep_mult * outer)
    dom = (np.arange(plan.world) + offset) // domain
    if wrap:
        dom = dom % wrap
    got = timed_ranks(plan, dom)
    assert timed_ranks(plan, dom, memo := {}) == got == timed_ranks(plan, dom, memo)
    orders = group_orders(plan)
    for kind in ("tp", "ep"):
        rows = orders[kind]
        stats = [_run_stats(dom[r]) for r in rows]
        worst = max(range(len(rows)), key=lambda i: (stats[i][0], -stats[i][1], -i))
        assert got[kind] == tuple(rows[worst].tolist()), kind
    rows = orders["pp"]
    across = [sum(dom[r[s]] != dom[r[s + 1]] for s in range(pp - 1)) for r in rows]
    worst = max(range(len(rows)), key=lambda i: (across[i], -i))
    assert got["pp"] == tuple(rows[worst].tolist())


@pytest.fixture(scope="module")
def nvl72_x16() -> tuple[object, Fabric]:
    lay = load_layout("gb200-nvl72-x16")
    return lay, Fabric.from_layout(lay)


def test_an_explicit_straddling_plan_is_timed_on_its_straddling_group(
    nvl72_x16: tuple[object, Fabric],
) -> None:
    """`topo evaluate gb200-nvl72-x16 --ep 32 --dp 1152`: its EP all-to-all is that of
    ranks 64-95 (8 GPUs in one rack, 24 in the next), slower than rank 0's inside one."""
    lay, fabric = nvl72_x16
    model = load_model("deepseek-v3")
    plan = Plan(tp=1, ep=32, dp=1152)
    wl = Workload(input_tokens=1024, output_tokens=64, fidelity=DEFAULT)
    placement = place(fabric, plan)
    ranks = placement.ranks
    # Groups 2, 4 and 6 of every 9 (288 GPUs, 4 racks) straddle: 12 of 36.
    assert {r.kind: r for r in placement.reports}["ep"].groups_across_domains == 12
    assert fabric.domain[[fabric.index[g] for g in ranks[64:96]]].tolist() == [0] * 8 + [1] * 24
    names = {"tp": ranks[:1], "ep": ranks[64:96], "pp": ranks[:1]}
    slowest = _comm_of(fabric, plan, names)
    first = _comm_of(fabric, plan, names | {"ep": ranks[:32]})
    assert comm_model(fabric, placement) == slowest == plan_comm(fabric, plan)
    assert slowest.ep_domains == 2
    assert first.ep_domains == 1
    B = np.array([1152.0, 4608.0])
    d = decode(lay, model, plan, B, wl, slowest)
    d0 = decode(lay, model, plan, B, wl, first)
    assert (d0.communication < d.communication).all()
    e = evaluate(lay, fabric, model, plan, 4608, wl, parts=plan_parts(lay, fabric, model, plan, wl))
    assert e.decode.breakdown_s["communication"] == pytest.approx(float(d.communication[1]))
    assert e.efficiency_basis["groups"] == (
        "ep groups span 1-2 domains (12 of 36 across): timed on the slowest, ranks 64-95 "
        "(2 domains, 8 of its GPUs in one)"
    )
    # The floor a search bounds plans with stays under the plan's own collectives.
    floor = comm_floor(fabric, plan)
    sizes = np.geomspace(1e3, 1e9, 13)
    assert (
        floor.time(floor.ep_all_to_all, sizes, DEFAULT)
        <= slowest.time(slowest.ep_all_to_all, sizes, DEFAULT)
    ).all()
    assert floor.ep_domains == 2


def test_a_straddling_pipeline_pays_its_hop_across_once_and_the_rest_inside(
    nvl72_x16: tuple[object, Fabric],
) -> None:
    """A token passes every hop of its pipeline: ranks 64, 66, ..., 94 make 1 hop across
    racks (70 -> 72) and 14 inside. The step's hops cost 1 across plus 14 inside: the
    mean of a pipeline all across (1 part) and one all inside (14 parts)."""
    lay, fabric = nvl72_x16
    model = load_model("deepseek-v3")
    plan = Plan(tp=1, ep=2, pp=16, dp=72)
    comm = plan_comm(fabric, plan)
    ranks = place(fabric, plan).ranks
    dom = [fabric.domain[fabric.index[g]] for g in ranks[64:96:2]]
    assert dom == [dom[0]] * 4 + [dom[4]] * 12  # 64-70 in one rack, 72-94 in the next
    assert dom[0] != dom[4]
    stages = {"tp": ranks[:1], "ep": ranks[:2], "pp": ranks[64:96:2]}
    assert comm == _comm_of(fabric, plan, stages) == comm_model(fabric, place(fabric, plan))
    assert comm.pp_hop[0][4] == fabric.out_link  # charged on the NIC
    assert comm.pp_hop_rest[0][4] == fabric.up_link
    assert comm.pp_hop_share == pytest.approx(1 / 15)
    all_across = dataclasses.replace(comm, pp_hop_rest=(), pp_hop_share=1.0)
    all_inside = dataclasses.replace(
        comm, pp_hop=comm.pp_hop_rest, pp_hop_rest=(), pp_hop_share=1.0
    )
    wl = Workload(input_tokens=1024, output_tokens=64, fidelity=DEFAULT)
    B = np.array([72.0, 288.0, 1152.0])
    mixed, x, i = (decode(lay, model, plan, B, wl, c) for c in (comm, all_across, all_inside))
    np.testing.assert_allclose(mixed.communication, (x.communication + 14 * i.communication) / 15)
    assert (i.communication < mixed.communication).all()
    assert (mixed.communication < x.communication).all()
    # Stacked, as searches run steps, the same; and the floor stays under the step.
    ((tpot, _),) = decode_tpots(lay, model, wl, [(plan, B, comm)])
    np.testing.assert_allclose(tpot, mixed.tpot, rtol=1e-12)
    floor, _, _ = floor_steps(lay, model, wl, fabric, [(plan, B)])
    assert (floor[0] <= mixed.tpot).all()
    assert comm_floor(fabric, plan).pp_hop_share == pytest.approx(1 / 15)


def test_evaluate_says_which_group_it_timed(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "gb200-nvl72-x16", "--model", "deepseek-v3", "--ep", "32"]
    assert main([*argv, "--dp", "1152", "--batch", "4608"]) == 0
    out = capsys.readouterr().out
    assert "    groups               ep groups span 1-2 domains (12 of 36 across): timed on" in out
    assert main([*argv, "--dp", "1152", "--batch", "4608", "--clean"]) == 0
    assert "ep groups span 1-2 domains" in capsys.readouterr().out  # the clean roofline too
    assert main([*argv, "--dp", "1152", "--batch", "4608", "--ideal"]) == 0
    assert "groups  " not in capsys.readouterr().out  # no communication to time
    assert main([*argv, "--dp", "1152", "--batch", "0"]) == 2  # its bad-input path
    assert "--batch must be >= 1" in capsys.readouterr().err
    assert main(["evaluate", "gb200-nvl72-x16", "--model", "deepseek-v3", "--batch", "64"]) == 0
    assert "groups" not in capsys.readouterr().out  # a plan whose groups are alike
