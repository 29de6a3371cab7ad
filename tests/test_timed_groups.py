"""A plan's collectives are timed on its slowest group of each kind, not on rank 0's.

Groups of one kind run at once and the step waits for the slowest. Where packed placement
cannot keep every group inside a domain (32-GPU EP groups on 1,152 GPUs of 72-GPU racks:
ranks 64-95 straddle two), the groups that leave their domain most set the time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topo.cli import main
from topo.evaluation import evaluate, plan_parts
from topo.fidelity import DEFAULT
from topo.layout import load_layout
from topo.models import load_model
from topo.perf import Workload, _comm_of, comm_floor, comm_model, decode, plan_comm
from topo.place import Plan, first_ranks, group_orders, place, timed_note, timed_ranks
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


def test_the_pipeline_hop_timed_is_the_first_that_crosses_domains() -> None:
    # tp 1 x ep 2 x pp 16 x dp 72: stages are tp x ep/tp = 2 ranks apart, a pipeline
    # holds 32 ranks. Pipelines 0 and 1 (ranks 0-63) lie in rack 0; pipeline 2 holds
    # ranks 64-95, whose stage 3 (ranks 70, 71) hands on to stage 4 (72, 73) in rack 1.
    got = timed_ranks(Plan(tp=1, ep=2, pp=16, dp=72), RACKS_OF_72)
    assert got["pp"] == (70, 72)
    assert got["ep"] == (0, 1)  # pairs never straddle racks of 72
    assert timed_note(Plan(tp=1, ep=2, pp=16, dp=72), RACKS_OF_72) == (
        "pipeline hops cross domains in some pipelines: timed on ranks 70 -> 72"
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
    assert got["pp"] == first["pp"][:2]
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
)
def test_timed_groups_are_the_slowest_of_the_reference_groups(
    tp: int, ep_mult: int, pp: int, outer: int, domain: int, offset: int
) -> None:
    """Against :func:`topo.place.group_orders` (every group, by keys): the timed tp and
    ep groups span the most domains, with the fewest members in one, the first such;
    the timed hop crosses domains wherever any hop does, and is a hop of some pipeline."""
    ep = tp * ep_mult
    plan = Plan(tp=tp, ep=ep, pp=pp, dp=ep_mult * outer)
    dom = (np.arange(plan.world) + offset) // domain
    got = timed_ranks(plan, dom)
    orders = group_orders(plan)
    for kind in ("tp", "ep"):
        rows = orders[kind]
        stats = [_run_stats(dom[r]) for r in rows]
        worst = max(range(len(rows)), key=lambda i: (stats[i][0], -stats[i][1], -i))
        assert got[kind] == tuple(rows[worst].tolist()), kind
    hops = {(int(r[s]), int(r[s + 1])) for r in orders["pp"] for s in range(pp - 1)}
    if pp == 1:
        assert got["pp"] == (0,)
        return
    assert got["pp"] in hops
    crossing = [h for h in hops if dom[h[0]] != dom[h[1]]]
    assert (dom[got["pp"][0]] != dom[got["pp"][1]]) == bool(crossing)


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
        "ep groups span 1-2 domains: timed on the slowest, ranks 64-95 (2 domains, 8 of its "
        "GPUs in one)"
    )
    # The floor a search bounds plans with stays under the plan's own collectives.
    floor = comm_floor(fabric, plan)
    sizes = np.geomspace(1e3, 1e9, 13)
    assert (
        floor.time(floor.ep_all_to_all, sizes, DEFAULT)
        <= slowest.time(slowest.ep_all_to_all, sizes, DEFAULT)
    ).all()
    assert floor.ep_domains == 2


def test_a_straddling_pipeline_is_timed_on_its_hop_across_racks(
    nvl72_x16: tuple[object, Fabric],
) -> None:
    lay, fabric = nvl72_x16
    plan = Plan(tp=1, ep=2, pp=16, dp=72)
    comm = plan_comm(fabric, plan)
    ranks = place(fabric, plan).ranks
    hop = (ranks[70], ranks[72])
    assert fabric.domain[fabric.index[hop[0]]] != fabric.domain[fabric.index[hop[1]]]
    want = _comm_of(fabric, plan, {"tp": ranks[:1], "ep": ranks[:2], "pp": hop})
    assert comm == want
    assert comm.pp_hop[0][4] == fabric.out_link
    floor = comm_floor(fabric, plan)
    sizes = np.geomspace(1e3, 1e9, 13)
    assert (
        floor.time(floor.pp_hop, sizes, DEFAULT) <= comm.time(comm.pp_hop, sizes, DEFAULT)
    ).all()


def test_evaluate_says_which_group_it_timed(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "gb200-nvl72-x16", "--model", "deepseek-v3", "--ep", "32"]
    assert main([*argv, "--dp", "1152", "--batch", "4608"]) == 0
    out = capsys.readouterr().out
    assert "    groups               ep groups span 1-2 domains: timed on the slowest" in out
    assert main([*argv, "--dp", "1152", "--batch", "0"]) == 2  # its bad-input path
    assert "--batch must be >= 1" in capsys.readouterr().err
    assert main(["evaluate", "gb200-nvl72-x16", "--model", "deepseek-v3", "--batch", "64"]) == 0
    assert "groups" not in capsys.readouterr().out  # a plan whose groups are alike
