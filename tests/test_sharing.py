"""What a study shares between designs gives what each design computes alone.

The fabric laid out from the layout equals the graph's, array for array; plans' first
groups equal the placement's; a decode step from warm caches equals one from cold ones;
collectives inside one switched domain shared between fabrics equal their own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from topo.build import build_graph
from topo.design import apply_design
from topo.errors import TopoError
from topo.layout import load_layout
from topo.models import load_model
from topo.place import Plan, first_groups, place
from topo.routing import Fabric

BUNDLED = sorted(p.stem for p in (Path(__file__).parents[1] / "layouts").glob("*.yaml"))


def _same_fabric(a: Fabric, b: Fabric) -> None:
    """Every public attribute equal: arrays by dtype, shape and bytes; the rest by ==."""
    names = [k for k in vars(a) if not k.startswith("_")]
    assert names == [k for k in vars(b) if not k.startswith("_")]
    for k in names:
        x, y = getattr(a, k), getattr(b, k)
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray), k
            assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes()), k
        else:
            assert type(x) is type(y), k
            assert x == y, k


@pytest.mark.parametrize("name", BUNDLED)
def test_fabric_from_the_layout_is_the_graphs(name: str) -> None:
    lay = load_layout(name)
    fabric = Fabric.from_layout(lay)
    _same_fabric(Fabric(build_graph(lay)), fabric)
    assert len(fabric.G) == len(build_graph(lay))  # the graph, built when asked for


@settings(max_examples=25, deadline=None)
@given(
    domain=st.sampled_from([4, 8, 16, 36, 72, 144, 288]),
    nic=st.sampled_from(["200 Gb/s", "400 Gb/s", "800 Gb/s", "1600 Gb/s"]),
    cluster=st.sampled_from([144, 288, 576, 1152]),
    oversubscription=st.sampled_from([1.0, 2.0, 3.0]),
)
def test_fabric_from_design_variants_is_the_graphs(
    domain: int, nic: str, cluster: int, oversubscription: float
) -> None:
    """Other domain sizes, NICs, cluster sizes and tapers: uneven leaves and spines too."""
    vary = {"domain_gpus": domain, "nic": nic, "cluster_gpus": cluster}
    try:
        lay = apply_design(load_layout("gb200-nvl72"), vary)
    except TopoError:
        return  # a design the layout cannot take (the study reports it)
    out = dataclasses.replace(lay.scale_out, oversubscription=oversubscription)
    lay = dataclasses.replace(lay, scale_out=out)
    _same_fabric(Fabric(build_graph(lay)), Fabric.from_layout(lay))


def test_fabric_of_a_torus_comes_from_the_graph() -> None:
    lay = load_layout("tpu-v5p-4x4x4")
    fabric = Fabric.from_layout(lay)
    assert fabric.topology == "torus"
    _same_fabric(Fabric(build_graph(lay)), fabric)


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["gb200-nvl72-x16", "dgx-h100-superpod", "kyber-nvl576"]),
    tp=st.sampled_from([1, 2, 4, 8]),
    ep_mult=st.sampled_from([1, 2, 4, 8, 16]),
    pp=st.sampled_from([1, 2, 4]),
    dp=st.sampled_from([1, 2, 4, 8, 16, 32]),
    strategy=st.sampled_from(["packed", "naive"]),
)
def test_first_groups_are_the_placements(
    name: str, tp: int, ep_mult: int, pp: int, dp: int, strategy: str
) -> None:
    plan = Plan(tp=tp, ep=tp * ep_mult, pp=pp, dp=dp)
    if (tp * dp) % plan.ep:
        return
    lay = load_layout(name)
    G = build_graph(lay)
    if plan.world > lay.n_gpus:
        with pytest.raises(TopoError):
            first_groups(Fabric.from_layout(lay), plan, strategy=strategy)
        return
    want = {k: v[0] for k, v in place(G, plan, strategy=strategy).groups.items()}
    assert first_groups(G, plan, strategy=strategy) == want
    assert first_groups(Fabric.from_layout(lay), plan, strategy=strategy) == want


def _decode_args() -> tuple[Any, ...]:
    from topo.perf import Workload

    lay = load_layout("gb200-nvl72")
    return lay, load_model("deepseek-v3"), Plan(tp=4, ep=32, dp=8), Workload(weights="fp8")


def _assert_same_bits(want: Any, got: Any) -> None:
    """Two decode results (:class:`topo.perf.DecodeTerms`) equal field by field, to the bit."""
    for name in want.__dataclass_fields__:
        a, b = getattr(want, name), getattr(got, name)
        if name == "kernels":
            assert a.keys() == b.keys()
            assert all(a[k].tobytes() == b[k].tobytes() for k in a)
        else:
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), name


def _assert_kept_as_cold(
    monkeypatch: pytest.MonkeyPatch, lay: Any, model: Any, w: Any, runs: Any, cold: Any
) -> None:
    """Each run's decode finds its step kept (none worked out afresh), the `cold` bits."""
    from topo import perf
    from topo.perf import decode, plan_comm

    fabric = Fabric.from_layout(lay)
    fresh: list[Any] = []
    monkeypatch.setattr(perf, "_bare_terms", lambda *a: fresh.append(a))
    warm = [decode(lay, model, p, B, w, plan_comm(fabric, p)) for p, B in runs]
    assert not fresh  # every step was kept
    for c, h in zip(cold, warm, strict=True):
        _assert_same_bits(c, h)


def test_a_decode_step_from_warm_caches_is_the_cold_one() -> None:
    """The step's network-free terms are kept by value; what decode returns is the same
    to the bit, and the kept arrays cannot be changed by a caller."""
    from topo import perf
    from topo.perf import decode, plan_comm

    lay, model, plan, w = _decode_args()
    comm = plan_comm(Fabric.from_layout(lay), plan)
    batches = np.array([8.0, 64.0, 512.0])
    perf._BARE.clear()
    cold = decode(lay, model, plan, batches, w, comm)
    warm = decode(load_layout("gb200-nvl72"), load_model("deepseek-v3"), plan, batches, w, comm)
    assert perf._BARE  # the second call found the first's terms
    _assert_same_bits(cold, warm)
    with pytest.raises(ValueError, match="read-only"):
        warm.weights[0] = 0.0
    # Another batch array is another step: nothing is read from the wrong entry.
    other = decode(lay, model, plan, np.array([8.0, 64.0]), w, comm)
    assert other.batch.tolist() == [8.0, 64.0]
    assert len(other.tpot) == 2


def test_lines_inside_a_domain_are_shared_between_fabrics_only_when_equal() -> None:
    """Another NIC leaves a domain's collectives as they are and changes those that leave
    it; lines read from the shared table equal the ones the fabric computes itself."""
    from topo import perf

    base = load_layout("gb200-nvl72")
    lays = [
        apply_design(base, {"nic": nic, "cluster_gpus": 288}) for nic in ("400 Gb/s", "800 Gb/s")
    ]
    fabrics = [Fabric.from_layout(lay) for lay in lays]
    inside = tuple(fabrics[0].gpus[:8])
    across = (fabrics[0].gpus[0], fabrics[0].gpus[72])
    perf._SHARED.clear()
    shared = [perf._lines(f, "all-reduce", inside) for f in fabrics]
    assert shared[0] == shared[1]
    perf._SHARED.clear()
    perf._CACHE.clear()
    alone = perf._lines(Fabric.from_layout(lays[1]), "all-reduce", inside)
    assert alone == shared[1]
    out = [perf._lines(f, "p2p", across) for f in fabrics]
    assert out[0] != out[1]  # the NIC's rate is in the line that leaves the domain


@settings(max_examples=30, deadline=None)
@given(
    table=st.sampled_from([("h100-sxm", "bf16"), ("h100-sxm", "fp8"), ("gb200", "fp8")]),
    shapes=st.lists(
        st.tuples(
            st.floats(1.0, 1e5),
            st.sampled_from([576.0, 4096.0, 7168.0, 18432.0]),
            st.sampled_from([512.0, 2048.0, 7168.0, 16384.0]),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_a_steps_shapes_fitted_together_are_each_fitted_alone(
    table: tuple[str, str], shapes: list[tuple[float, float, float]]
) -> None:
    """Each query's local fit reads only its own row: one call for a step's GEMM shapes
    gives each fraction to the bit as one call per shape does."""
    from topo import kernels

    keys = [(*table, m, n, k) for m, n, k in shapes]
    kernels._EXACT.clear()
    kernels._fit_exact(keys)
    together = [kernels._EXACT[key] for key in keys]
    measured = kernels.tables().gemm[table]
    alone = [
        float(kernels._direct_fraction(measured, np.array([m]), n, k)[0]) for m, n, k in shapes
    ]
    assert together == alone


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(BUNDLED),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 2]),
    dp=st.sampled_from([1, 2, 4, 8]),
    strategy=st.sampled_from(["packed", "naive"]),
)
def test_a_placement_on_the_fabric_is_the_one_on_the_graph(
    name: str, tp: int, pp: int, dp: int, strategy: str
) -> None:
    """Groups, spans and each group's bottleneck bandwidth: per-GPU link sums laid out
    from the layout are the graph's to the bit."""
    lay = load_layout(name)
    plan = Plan(tp=tp, pp=pp, dp=dp)
    if plan.world > lay.n_gpus:
        return
    assert place(Fabric.from_layout(lay), plan, strategy=strategy) == place(
        build_graph(lay), plan, strategy=strategy
    )


def test_evaluate_builds_no_graph() -> None:
    """`topo evaluate` reads the fabric from the layout: networkx is not even imported."""
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\n"
        "from topo.cli import main\n"
        "sys.argv = ['topo', 'evaluate', 'dgx-h100', '--model', 'llama-3-70b', '--tp', '8']\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main()\n"
        "assert 'time per output token' in out.getvalue().lower(), out.getvalue()[:300]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'networkx'))\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert got.stdout.strip() == "[]"


@settings(max_examples=30, deadline=None)
@given(
    batch=st.lists(
        st.floats(0.05, 5000.0)
        | st.sampled_from([2.0**j for j in range(26)])  # on the curves' grid points
        | st.floats(1.6e7, 1e9),  # past the grid's end
        min_size=1,
        max_size=40,
    ),
    grouped=st.booleans(),
    scale=st.sampled_from([1.0, 0.8]),
)
def test_a_steps_gemms_timed_together_are_each_timed_alone(
    batch: list[float], grouped: bool, scale: float
) -> None:
    """The kernel layer times a step's GEMMs as one stack: each row is gemm_time's, to the
    bit, whether the rows take the exact fits (8 or fewer) or the cached curves."""
    from topo import kernels

    acc = load_layout("gb200-nvl72").accelerator
    m = np.array(batch)
    groups = np.maximum(m / 7.0, 1e-9) if grouped else 2.0
    calls = [
        ("fp8", m, 7168.0, 2048.0, 1.0, groups),
        ("bf16", m, 256.0, 7168.0, 2.0, 1.0),
        ("fp8", m, 24576.0, 1536.0, 1.0, groups),
    ]
    bw = 7.2e12
    stacked = kernels._gemm_times(acc, calls, 2.0, bw, scale)
    for row, (dtype, mm, n, k, wb, g) in zip(stacked, calls, strict=True):
        # One GEMM alone, written out: weights once per group, activations in and out
        # (2 B), compute at the shape's efficiency, never under the shortest kernel.
        rows = g * mm
        eff = kernels.gemm_efficiency(acc, dtype, rows, n, k)
        if scale != 1.0:
            eff = np.minimum(eff * scale, 1.0)
        t_m = (g * (n * k * wb) + rows * ((k + n) * 2.0)) / bw
        t_c = rows * (2.0 * n * k / acc.peak_flop_per_s[dtype]) / np.maximum(eff, 1e-12)
        alone = np.maximum(np.maximum(t_m, t_c), kernels.kernel_floor(acc))
        assert row.tobytes() == alone.tobytes()
        one = kernels.gemm_time(
            acc, dtype, mm, n, k, weight_bytes=wb, groups=g, hbm_bw=bw, compute_scale=scale
        )
        assert one.tobytes() == alone.tobytes()


SWITCHED = [n for n in BUNDLED if load_layout(n).scale_up.topology == "switched"]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(SWITCHED),
    links=st.sampled_from([1, 2, 3, 5, 9, 18, 36]),
    switches=st.sampled_from([1, 2, 3, 4, 7, 9, 18]),
    fabric=st.sampled_from(["rail_fat_tree", "none"]),
    rails=st.sampled_from([1, 2, 4, 8]),
    leaf_radix=st.sampled_from([8, 16, 32, 64]),
    spine_radix=st.sampled_from([8, 16, 64]),
    taper=st.sampled_from([1.0, 1.5, 3.0]),
    nic=st.sampled_from([25e9, 100e9, 123e9]),
    racks=st.sampled_from([1, 2, 3, 5]),
)
def test_fabric_of_any_switched_structure_is_the_graphs(
    name: str, links: int, switches: int, fabric: str, rails: int, leaf_radix: int,
    spine_radix: int, taper: float, nic: float, racks: int,
) -> None:  # fmt: skip
    """Planes some GPUs have no link to, uneven leaves, spine planes, no scale-out: the
    laid-out index and per-GPU link sums equal the graph's."""
    lay = load_layout(name)
    up = dataclasses.replace(lay.scale_up, links_per_gpu=links, switches=switches)
    out = dataclasses.replace(
        lay.scale_out, topology=fabric, rails=rails, leaf_radix=leaf_radix,
        spine_radix=spine_radix, oversubscription=taper, nic_bandwidth_bytes_per_s=nic,
    )  # fmt: skip
    cluster = dataclasses.replace(lay.cluster, racks=racks)
    lay = dataclasses.replace(lay, scale_up=up, scale_out=out, cluster=cluster)
    graph, laid = Fabric(build_graph(lay)), Fabric.from_layout(lay)
    _same_fabric(graph, laid)
    for kind in ("scale_up", "scale_out"):
        assert laid.gpu_bandwidth(kind) == graph.gpu_bandwidth(kind)


@pytest.mark.parametrize(
    ("vary", "model", "limit"),
    [
        ({"domain_gpus": 8, "nic": "400 Gb/s", "cluster_gpus": 144}, "mixtral-8x7b", 0.02),
        ({"domain_gpus": 16, "nic": "800 Gb/s", "cluster_gpus": 288}, "deepseek-v3", 0.015),
        ({}, "llama-3-70b", 0.03),
    ],
)
def test_the_grid_bound_is_above_every_row_of_the_plan(
    vary: dict[str, Any], model: str, limit: float
) -> None:
    """The search skips a plan whose grid bound cannot beat the best: the bound must be
    above every row the plan gives under the limit."""
    from topo import plans
    from topo.perf import Workload, plan_comm

    lay = apply_design(load_layout("gb200-nvl72"), vary)
    m = load_model(model)
    w = Workload(weights="fp8")
    fabric = Fabric.from_layout(lay)
    checked = 0
    for plan in plans.candidate_plans(lay, m, replicas=False)[::3]:
        bs, max_b = plans._batches(lay, m, plan, w, None)
        if not len(bs):
            continue
        comm = plan_comm(fabric, plan)
        rows = plans._plan_rows(
            lay, m, plan, w, comm, "packed", batches=bs, given=False, max_b=max_b,
            target=limit, limit=limit,
        )  # fmt: skip
        (bound,) = plans._grid_bounds(lay, m, w, [(plan, comm, max_b)], limit)
        assert all(r.tokens_per_s_per_gpu <= bound for r in rows), plan
        checked += len(rows) > 0
    assert checked >= 3  # plans with rows under the limit were compared


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 12),
    cols=st.sampled_from([0, 1, 5, 18]),
    index=st.lists(st.integers(0, 11), max_size=60),
    scale=st.floats(1e-3, 1e12),
    start=st.booleans(),
)
def test_loads_added_by_bincount_are_added_in_order(
    rows: int, cols: int, index: list[int], scale: float, start: bool
) -> None:
    """Routing adds transfers to links as np.add.at does, value by value in order, so an
    uneven sum comes out the same to the bit (onto a loaded link too)."""
    from topo.routing import _add_rows

    rng = np.random.default_rng(len(index) + rows)
    idx = np.array([i % rows for i in index], dtype=np.int64)
    shape = (rows, cols) if cols else (rows,)
    values = rng.random((len(idx), cols) if cols else len(idx)) * scale
    target = rng.random(shape) if start else np.zeros(shape)
    want = target.copy()
    np.add.at(want, idx, values)
    _add_rows(target, idx, values)
    assert target.tobytes() == want.tobytes()


def test_all_to_all_loads_are_shared_only_between_fabrics_that_route_alike() -> None:
    """Another NIC loads the links alike (the busiest link is the new fabric's); another
    rail count puts GPUs on other leaves, and is routed afresh."""
    from topo import routing

    base = apply_design(load_layout("gb200-nvl72"), {"domain_gpus": 8, "cluster_gpus": 288})
    nics = [
        Fabric.from_layout(apply_design(base, {"nic": nic})) for nic in ("400 Gb/s", "1600 Gb/s")
    ]
    out = dataclasses.replace(base.scale_out, rails=1)
    other = Fabric.from_layout(dataclasses.replace(base, scale_out=out))
    members = np.arange(0, 288, 2)
    routing._A2A.clear()
    warm = [routing.all_to_all_loads(f, members, 1e6) for f in nics]
    assert nics[0].routes_key == nics[1].routes_key != other.routes_key
    for f, got in zip(nics, warm, strict=True):
        routing._A2A.clear()
        cold = routing.all_to_all_loads(f, members, 1e6)
        for name in ("sw_up", "sw_down", "nic_up", "nic_down", "leaf_traffic"):
            assert getattr(got, name).tobytes() == getattr(cold, name).tobytes()
        assert got.busiest() == cold.busiest()
    assert warm[0].busiest() != warm[1].busiest()  # the NIC's rate is in the busiest link


@settings(max_examples=6, deadline=None)
@given(
    vary=st.sampled_from(
        [{"domain_gpus": 8, "nic": "400 Gb/s"}, {"domain_gpus": 36}, {"domain_gpus": 144}]
    ),
    model=st.sampled_from(["deepseek-v3", "llama-3-70b"]),
    overlap=st.sampled_from(["none", "full"]),
)
def test_decode_steps_run_together_are_each_run_alone(
    vary: dict[str, Any], model: str, overlap: str
) -> None:
    """decode_tpots times all runs' collectives in one call per group's lines: each run's
    time per token and tokens/s equal decode's for it alone (to 1e-12: the array kernels
    may round a message's time differently at another position of a longer array)."""
    from topo import plans
    from topo.perf import Workload, decode, decode_tpots, plan_comm

    lay = apply_design(load_layout("gb200-nvl72"), vary)
    m = load_model(model)
    w = Workload(weights="fp8", overlap=overlap)
    fabric = Fabric.from_layout(lay)
    runs = []
    for i, plan in enumerate(plans.candidate_plans(lay, m, replicas=False)[:60]):
        # Runs of different lengths and batches, with and without collectives.
        batches = np.unique(np.round(np.geomspace(1, 8 + 50 * i, 3 + i % 40))) * plan.dp
        runs.append((plan, batches, plan_comm(fabric, plan) if i % 7 else None))
    got = decode_tpots(lay, m, w, runs)
    assert len(got) == len(runs)
    for (plan, batches, comm), (tpot, tokens) in zip(runs, got, strict=True):
        d = decode(lay, m, plan, batches, w, comm)
        np.testing.assert_allclose(tpot, d.tpot, rtol=1e-12, atol=0)
        np.testing.assert_allclose(tokens, d.tokens_per_s, rtol=1e-12, atol=0)


def test_bounds_taken_together_are_each_taken_alone() -> None:
    """The search bounds placed plans a chunk at a time: each bound equals its own."""
    from topo import plans
    from topo.perf import Workload, plan_comm

    lay = apply_design(load_layout("gb200-nvl72"), {"domain_gpus": 8, "nic": "800 Gb/s"})
    m = load_model("deepseek-v3")
    w = Workload(weights="fp8")
    fabric = Fabric.from_layout(lay)
    todo = []
    for plan in plans.candidate_plans(lay, m, replicas=False)[:80]:
        bs, max_b = plans._batches(lay, m, plan, w, None)
        if len(bs):
            todo.append((plan, plan_comm(fabric, plan), max_b))
    for limit in (0.02, 0.05, None):
        together = plans._comm_bounds(lay, m, w, todo, limit)
        plans._GRID_BOUNDS.clear()
        alone = [plans._comm_bounds(lay, m, w, [run], limit)[0] for run in todo]
        np.testing.assert_allclose(together, alone, rtol=1e-12, atol=0)
        assert sum(b > 0 for b in alone) >= 10  # plans that run under the limit compared


@settings(max_examples=30, deadline=None)
@given(
    domain=st.sampled_from([4, 8, 36, 72, 144]),
    picks=st.lists(st.integers(0, 287), min_size=2, max_size=120, unique=True),
    w=st.floats(1e-3, 1e9),
)
def test_all_pairs_counted_in_a_domain_are_the_pairs_routed(
    domain: int, picks: list[int], w: float
) -> None:
    """An all-to-all's pairs inside switched domains, added by counting, give the bytes
    that routing every pair gives (the same floats: each row gets one flow per other
    member, in order, from zero)."""
    from topo import routing

    fabric = Fabric.from_layout(
        apply_design(load_layout("gb200-nvl72"), {"domain_gpus": domain, "cluster_gpus": 288})
    )
    members = np.array(picks, dtype=np.int64)
    counted = routing._all_to_all_loads(fabric, members, w)
    by_pairs = routing.LinkLoads(fabric)
    for d in np.unique(fabric.domain[members]).tolist():
        idx = members[fabric.domain[members] == d]
        src, dst = np.meshgrid(idx, idx, indexing="ij")
        routing.pair_loads(fabric, src.ravel(), dst.ravel(), w, by_pairs)
    assert counted.sw_up.tobytes() == by_pairs.sw_up.tobytes()
    assert counted.sw_down.tobytes() == by_pairs.sw_down.tobytes()
    assert counted.max_latency_s >= by_pairs.max_latency_s


def test_all_pairs_with_uneven_links_are_routed_pair_by_pair() -> None:
    """Members with different links to the planes are not counted (their flows differ)."""
    from topo import routing

    fabric = Fabric.from_layout(load_layout("gb200-nvl72"))
    loads = routing.LinkLoads(fabric)
    members = np.arange(6, dtype=np.int64)
    fabric.links[1, 0] += 1  # one GPU with an extra link to plane 0
    try:
        assert not routing._all_pairs_switched(loads, [members], 1.0)
        assert not loads.sw_up.any()
    finally:
        fabric.links[1, 0] -= 1
    assert routing._all_pairs_switched(loads, [members], 1.0)
    assert np.allclose(loads.sw_up[members].sum(axis=1), 5.0)  # 5 others, 1 B each


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    grid=st.integers(2, 200),
    curves=st.integers(1, 6),
)
def test_rows_interpolated_together_are_np_interp(seed: int, grid: int, curves: int) -> None:
    """The kernel layer interpolates a step's GEMM curves in one pass: each row is
    np.interp's, to the bit (points inside, on the grid, and beyond both ends)."""
    from topo.kernels import interp_rows

    rng = np.random.default_rng(seed)
    xp = np.sort(rng.uniform(-3.0, 30.0, grid))
    xp = np.unique(np.concatenate([xp, np.round(xp[:3])]))
    fp = np.log(rng.uniform(1e-3, 1.0, (curves, len(xp))))
    x = np.concatenate(
        [rng.uniform(xp[0] - 2, xp[-1] + 2, (curves, 2000)), np.tile(xp, (curves, 1))], axis=1
    )
    got = interp_rows(x, xp, fp, np.diff(fp, axis=1) / np.diff(xp))
    for i in range(curves):
        assert got[i].tobytes() == np.interp(x[i], xp, fp[i]).tobytes()


def test_fabrics_sharing_their_scale_up_do_not_share_its_state() -> None:
    """Designs that differ only in the NIC reuse one scale-up layout: each fabric gets its
    own copies (a change to one reaches no other), and each equals its graph's."""
    base = load_layout("gb200-nvl72")
    a = Fabric.from_layout(apply_design(base, {"domain_gpus": 8, "nic": "400 Gb/s"}))
    b_layout = apply_design(base, {"domain_gpus": 8, "nic": "800 Gb/s"})
    b = Fabric.from_layout(b_layout)
    assert a.nic_bw[0] * 2 == b.nic_bw[0]  # the NIC is each design's own
    a.links[:] = 0
    a.domain[:] = -1
    a.members[0].append(10**6)
    a.planes[0].append("nowhere")
    a.index.clear()
    a.gpus.clear()
    c = Fabric.from_layout(b_layout)
    _same_fabric(Fabric(build_graph(b_layout)), b)
    _same_fabric(Fabric(build_graph(b_layout)), c)


def _same_bare(a: Any, b: Any) -> None:
    """Two decode steps' terms equal to the bit (arrays by dtype, shape and bytes)."""
    from topo.perf import _Bare, _StepWork

    for f in _Bare.__slots__:
        x, y = getattr(a, f), getattr(b, f)
        if f == "work":
            for g in _StepWork.__slots__:
                u, v = np.asarray(getattr(x, g)), np.asarray(getattr(y, g))
                assert (u.shape, u.tobytes()) == (v.shape, v.tobytes()), g
        elif f == "kernels":
            assert x.keys() == y.keys()
            assert all(x[k].tobytes() == y[k].tobytes() for k in x), f
        elif isinstance(y, np.ndarray):
            assert (x.dtype, x.shape, x.tobytes()) == (y.dtype, y.shape, y.tobytes()), f
        else:
            assert type(x) is type(y), f
            assert x == y, f


@pytest.mark.parametrize(
    "case",
    [
        ({"domain_gpus": 8}, "deepseek-v3", {}),
        ({"domain_gpus": 72}, "deepseek-v3", {"context_cv": 0.4, "draft_tokens": 2}),
        ({}, "llama-3-70b", {}),
        ({}, "mixtral-8x7b", {"prefill_chunk_tokens": 256.0, "moe_skew": 0.2}),
        ({"domain_gpus": 16}, "llama-3.1-8b", {"compute_scale": 0.8}),
        ({"domain_gpus": 8}, "deepseek-v3", {"enabled": False}),  # the clean roofline
    ],
)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 1000))
def test_plans_stacked_into_one_step_are_each_run_alone(
    case: tuple[dict[str, Any], str, dict[str, Any]], seed: int
) -> None:
    """The search runs the decode steps of many plans as one stack: each plan's terms are
    the floats of its step run alone (batches of several lengths, padded in the stack)."""
    from topo import plans
    from topo.perf import Workload, _bare_stack, _bare_terms

    vary, model, losses = case
    lay = apply_design(load_layout("gb200-nvl72"), vary)
    m = load_model(model)
    w = Workload(weights="fp8", fidelity=dataclasses.replace(Workload().fidelity, **losses))
    rng = np.random.default_rng(seed)
    runs = []
    for plan in plans.candidate_plans(lay, m, replicas=False)[:40]:
        top = int(rng.integers(9, 400))
        runs.append((plan, plans._grid(top) * plan.dp))
    runs = [(p, b) for p, b in runs if len(b) > 8]
    stacked = _bare_stack(lay, m, runs, w)
    for (plan, batches), got in zip(runs, stacked, strict=True):
        _same_bare(got, _bare_terms(lay, m, plan, batches.copy(), w))
        # Kept and shared like any step: every array read-only.
        arrays = [getattr(got, f) for f in got.__slots__] + list(got.kernels.values())
        arrays += [getattr(got.work, f) for f in got.work.__slots__]
        assert not any(isinstance(a, np.ndarray) and a.flags.writeable for a in arrays)


@settings(max_examples=30, deadline=None)
@given(
    m=st.lists(
        st.floats(0.0, 2e9) | st.sampled_from([2.0 ** (j / 8) for j in range(0, 200)]),
        min_size=1,
        max_size=50,
    )
)
def test_grid_segments_by_arithmetic_are_searchsorteds(m: list[float]) -> None:
    """The kernel layer finds where each GEMM's rows fall on its curves' grid by
    arithmetic: the segments np.interp's search finds (points on the grid included)."""
    from topo.kernels import _M_GRID, grid_index

    x = np.log2(np.maximum(np.array(m), 1.0))
    want = np.clip(np.searchsorted(_M_GRID, x, side="right") - 1, 0, len(_M_GRID) - 2)
    assert np.array_equal(grid_index(x), want)
    assert np.array_equal(_M_GRID, np.arange(len(_M_GRID)) / 8.0)  # what it relies on


@settings(max_examples=40, deadline=None)
@given(picks=st.lists(st.integers(0, 143), min_size=1, max_size=144, unique=True))
@example(picks=[8, 0, 9, 1, 10, 2, 16, 17, 18])  # three domains of three, interleaved
@example(picks=list(range(144)))
def test_members_split_by_domain_keep_the_groups_order(picks: list[int]) -> None:
    """A hierarchical collective's parts: the members of each domain in group order, the
    domains in the order their first member comes; None unless each domain has as many
    (and there are two or more)."""
    from topo.collectives import _split_by_domain

    lay = apply_design(load_layout("gb200-nvl72"), {"domain_gpus": 8, "cluster_gpus": 144})
    fabric = Fabric.from_layout(lay)
    members = np.array(picks, dtype=np.int64)
    doms: dict[int, list[int]] = {}
    for g in picks:  # the rule, written out
        doms.setdefault(int(fabric.domain[g]), []).append(g)
    even = len(doms) > 1 and len({len(v) for v in doms.values()}) == 1
    got = _split_by_domain(fabric, members)
    if not even:
        assert got is None
    else:
        assert got is not None
        assert [part.tolist() for part in got] == list(doms.values())


@pytest.mark.parametrize(
    ("name", "vary", "model"),
    [
        ("gb200-nvl72", {"domain_gpus": 8, "nic": "400 Gb/s", "cluster_gpus": 576}, "deepseek-v3"),
        ("gb200-nvl72", {"domain_gpus": 16, "cluster_gpus": 576}, "deepseek-v3"),
        ("gb200-nvl72", {"domain_gpus": 36, "nic": "1600 Gb/s"}, "deepseek-v3"),
        # Two domains: pipeline hops between them (the scale-out latency alone).
        ("gb200-nvl72", {"domain_gpus": 36, "cluster_gpus": 72}, "deepseek-v3"),
        ("dgx-h100-superpod", {}, "deepseek-v3"),
        ("mi300x-8", {}, "mixtral-8x7b"),
        ("tpu-v5p-4x4x4", {}, "mixtral-8x7b"),
    ],
)
def test_the_comm_floor_is_never_slower_than_the_placed_plans_collectives(
    name: str, vary: dict[str, Any], model: str
) -> None:
    """The search skips a plan whose step with comm_floor's collectives cannot beat the
    best, before placing it: its step must be no slower than the placed plan's at every
    batch, for every candidate plan (losses on, and the clean roofline)."""
    from topo import plans
    from topo.fidelity import CLEAN
    from topo.perf import Workload, comm_floor, decode, plan_comm

    lay = apply_design(load_layout(name), vary)
    m = load_model(model)
    fabric = Fabric.from_layout(lay)
    batches = np.unique(np.round(np.geomspace(1, 4096, 40)))
    floored = inside = 0
    for w in (Workload(weights="fp8"), Workload(weights="fp8", fidelity=CLEAN)):
        for plan in plans.candidate_plans(lay, m, replicas=False):
            low, placed = comm_floor(fabric, plan), plan_comm(fabric, plan)
            assert low.ep_domains == placed.ep_domains  # the block's own domains
            own = decode(lay, m, plan, batches * plan.dp, w, placed)
            floor = decode(lay, m, plan, batches * plan.dp, w, low)
            assert np.all(floor.tpot <= own.tpot), plan
            lines = low.tp_all_reduce + low.ep_all_to_all + low.pp_hop
            floored += any(line[4] == fabric.out_link and line[3] for line in lines)
            inside += any(line[4] == fabric.up_link and line[3] for line in lines)
    if m.moe and m.moe["experts"] > lay.gpus_per_domain:
        assert floored > 0  # expert blocks larger than a domain were bounded
    # Groups inside a switched domain are charged their bytes over the GPU's links.
    assert (inside > 0) == (fabric.topology == "switched")


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(-1e12, 1e12, allow_nan=False), st.sampled_from([0.0, -0.0, 1.0])),
        max_size=60,
    ),
    ints=st.booleans(),
)
def test_unique_is_numpys(values: list[float], ints: bool) -> None:
    """topo._arrays.unique (which does not import numpy's masked arrays) gives np.unique's
    values and dtype."""
    from topo._arrays import unique

    a = np.array([int(v) for v in values] if ints else values, dtype=int if ints else float)
    got, want = unique(a), np.unique(a)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=12),
    sizes=st.lists(st.floats(1.0, 1e10), min_size=1, max_size=30),
)
def test_curves_looked_up_together_give_each_charge_its_own_floats(
    picks: list[int], sizes: list[float]
) -> None:
    """decode_tpots looks each curve up once over many lines' sizes (curve_memos): every
    set of lines is then charged to the bit as it is alone (the lines of placed plans and
    of their floors, all-reduces with an engine curve among them)."""
    from topo import plans
    from topo.collectives import curve_memos
    from topo.fidelity import DEFAULT
    from topo.perf import CommModel, comm_floor, plan_comm

    lay = apply_design(load_layout("gb200-nvl72"), {"domain_gpus": 8, "cluster_gpus": 144})
    fabric = Fabric.from_layout(lay)
    cands = plans.candidate_plans(lay, load_model("deepseek-v3"), replicas=False)
    wide = next(p for p in cands if p.tp > 1 and p.pp > 1 and p.ep > 8)  # every kind
    every = []
    for plan in [wide, *(cands[k % len(cands)] for k in picks)]:
        for comm in (plan_comm(fabric, plan), comm_floor(fabric, plan)):
            every += [comm.tp_all_reduce, comm.ep_all_to_all, comm.pp_hop]
    asked = [
        (lines, np.array(sizes[i % len(sizes) :] + sizes[: i % len(sizes)]))
        for i, lines in enumerate(every)
        if lines
    ]
    assert any(line[0] == "all-reduce" for lines, _ in asked for line in lines)
    for (lines, m), memo in zip(asked, curve_memos(asked), strict=True):
        together = CommModel._time(lines, m, DEFAULT, memo)
        alone = CommModel._time(lines, m, DEFAULT)
        assert together.tobytes() == alone.tobytes()


@pytest.mark.parametrize("model", ["llama-3.1-8b", "deepseek-v3", "mixtral-8x7b", "llama-3-70b"])
def test_a_stacks_gemms_are_each_plans_own(model: str) -> None:
    """The GEMMs of a stack of plans, made once on the stack's degree columns, hold each
    plan's own shapes to the bit: tensor parallelism past the KV heads (their floor of
    one head) and experts split by tp included."""
    from topo.kernels import _gemms, layer_gemms, moe_gemms
    from topo.perf import _PlanStack

    m = load_model(model)
    plans = [
        Plan(tp=tp, ep=ep, pp=pp, dp=max(ep // tp, 1))
        for tp in (1, 2, 8, 16, 32)
        for ep in (1, 4, 64)
        for pp in (1, 2, 4)
    ]
    stack = _PlanStack.of(plans)
    for make in (layer_gemms, moe_gemms):
        stacked = _gemms(make, m, stack)
        for i, plan in enumerate(plans):
            alone = make(m, plan)
            assert [g.name for g in stacked] == [g.name for g in alone]
            for s, a in zip(stacked, alone, strict=True):
                assert s.weight_bytes == a.weight_bytes
                for f in ("n", "k", "per_stage", "groups"):
                    got, want = getattr(s, f), float(getattr(a, f))
                    assert got.shape == (len(plans), 1)
                    assert got[i, 0].tobytes() == np.float64(want).tobytes(), (plan, s.name, f)


def test_a_steps_message_sizes_kept_for_one_span_are_not_used_for_another() -> None:
    """decode_tpots keeps a step's message sizes with the step, by whether the expert
    block spans domains (low-latency dispatch sends k copies across domains): the same
    step timed with collectives inside one domain, then across, then inside again, gives
    decode's numbers each time."""
    import dataclasses

    from topo.perf import Workload, decode, decode_tpots, plan_comm

    lay = apply_design(load_layout("gb200-nvl72"), {"domain_gpus": 8, "cluster_gpus": 144})
    m = load_model("deepseek-v3")
    w = Workload(weights="fp8")
    plan = Plan(tp=1, ep=32, pp=1, dp=32)
    across = plan_comm(Fabric.from_layout(lay), plan)
    assert across.ep_domains > 1
    inside = dataclasses.replace(across, ep_domains=1)
    batches = np.arange(1.0, 40.0) * 32
    for comm in (inside, across, inside):
        [(tpot, _)] = decode_tpots(lay, m, w, [(plan, batches, comm)])
        np.testing.assert_allclose(tpot, decode(lay, m, plan, batches, w, comm).tpot, rtol=1e-12)
    [(a, _)] = decode_tpots(lay, m, w, [(plan, batches, inside)])
    [(b, _)] = decode_tpots(lay, m, w, [(plan, batches, across)])
    assert (b > a).all()  # k copies per token across domains: more bytes


@pytest.mark.parametrize(
    ("name", "vary", "model", "overlap"),
    [
        (
            "gb200-nvl72",
            {"domain_gpus": 8, "nic": "400 Gb/s", "cluster_gpus": 576},
            "deepseek-v3",
            "none",
        ),
        ("gb200-nvl72", {"domain_gpus": 36, "nic": "1600 Gb/s"}, "deepseek-v3", "tp=none,ep=full"),
        ("gb200-nvl72", {"domain_gpus": 36, "cluster_gpus": 72}, "llama-3-70b", "full"),
        ("dgx-h100-superpod", {}, "deepseek-v3", "none"),
        ("mi300x-8", {}, "mixtral-8x7b", "none"),
        ("tpu-v5p-4x4x4", {}, "mixtral-8x7b", "none"),
    ],
)
def test_floor_steps_stacked_are_each_plans_own(
    name: str, vary: dict[str, Any], model: str, overlap: str
) -> None:
    """floor_steps charges every plan's comm_floor at once, a row per plan: each row is
    decode_tpots' step for the plan with its floor (to 1e-12: array kernels may round at
    another position), losses on and on the clean roofline; and the search's floor
    bounds taken from those rows are _comm_bounds' of the floors, with and without a
    latency limit."""
    from topo import plans
    from topo.fidelity import CLEAN
    from topo.perf import Workload, comm_floor, decode_tpots, floor_steps

    lay = apply_design(load_layout(name), vary)
    m = load_model(model)
    fabric = Fabric.from_layout(lay)
    for w in (Workload(weights="fp8", overlap=overlap), Workload(weights="fp8", fidelity=CLEAN)):
        todo = []
        for plan in plans.candidate_plans(lay, m, replicas=True):
            bs, max_b = plans._batches(lay, m, plan, w, None)
            if max_b // plan.dp >= 1:
                todo.append((plan, max_b))
        runs = [(p, plans._grid(b // p.dp) * p.dp) for p, b in todo]
        tpot, tokens, n = floor_steps(lay, m, w, fabric, runs)
        want = decode_tpots(lay, m, w, [(p, b, comm_floor(fabric, p)) for p, b in runs])
        assert n.tolist() == [len(b) for _, b in runs]
        for i, (t, k) in enumerate(want):
            np.testing.assert_allclose(tpot[i, : n[i]], t, rtol=1e-12, atol=0)
            np.testing.assert_allclose(tokens[i, : n[i]], k, rtol=1e-12, atol=0)
        for limit in (0.02, 0.05, None):
            got = plans._floor_bounds(lay, m, w, fabric, todo, limit)
            floors = [(p, comm_floor(fabric, p), b) for p, b in todo]
            plans._GRID_BOUNDS.clear()
            np.testing.assert_allclose(
                got, plans._comm_bounds(lay, m, w, floors, limit), rtol=1e-12, atol=0
            )
            assert any(b > 0 for b in got)  # plans that run under the limit compared
    with pytest.raises(ValueError, match="at least one batch"):
        floor_steps(lay, m, w, fabric, [(todo[0][0], np.array([]))])


@settings(max_examples=25, deadline=None)
@given(
    groups=st.lists(
        st.sampled_from([2, 3, 4, 8, 16, 36, 64, 72, 256, 1152]), min_size=1, max_size=9
    ),
    sizes=st.lists(st.floats(0.0, 1e10), min_size=1, max_size=20),
    link=st.sampled_from(["nvlink5", "nvlink4", "ib-ndr", "infinity-fabric", "ici"]),
    op=st.sampled_from(["all-reduce", "all-to-all", "p2p"]),
    runtime=st.sampled_from(["library", "engine"]),
)
def test_curves_looked_up_by_rows_are_each_rows_own(
    groups: list[int], sizes: list[float], link: str, op: str, runtime: str
) -> None:
    """collective_efficiencies looks up rows of one curve together: each row's latency
    and shares are collective_efficiency's for its own group size, to the bit."""
    from topo.kernels import collective_efficiencies, collective_efficiency

    m = np.array([[s * (1 + i) for s in sizes] for i in range(len(groups))])
    latency, share = collective_efficiencies(link, op, m, np.array(groups), runtime)
    for i, g in enumerate(groups):
        lat, want = collective_efficiency(link, op, m[i], g, runtime)
        assert latency[i, 0] == lat
        np.testing.assert_array_equal(share[i], want)


@pytest.mark.parametrize("domain", [8, 36, 72])
def test_floor_keys_match_when_the_floors_do(domain: int) -> None:
    """The search keeps floor bounds by floor_key across designs: on two fabrics that
    differ in the NIC alone, two plans' keys are equal exactly when their comm_floors are
    (those inside a domain share them, those across it do not), and the kept bounds are
    the ones computed afresh."""
    from topo import plans
    from topo.perf import Workload, comm_floor, floor_key

    base = load_layout("gb200-nvl72")
    lay, other = (
        apply_design(base, {"domain_gpus": domain, "nic": nic}) for nic in ("400 Gb/s", "1600 Gb/s")
    )
    a, b = Fabric.from_layout(lay), Fabric.from_layout(other)
    m = load_model("deepseek-v3")
    shared = 0
    for plan in plans.candidate_plans(lay, m, replicas=False):
        same = comm_floor(a, plan) == comm_floor(b, plan)
        assert (floor_key(a, plan) == floor_key(b, plan)) == same, plan
        shared += same
    assert 0 < shared
    w = Workload(weights="fp8")
    todo = [
        (p, mb)
        for p in plans.candidate_plans(lay, m, replicas=False)[:60]
        if (mb := plans._batches(lay, m, p, w, None)[1]) // p.dp >= 1
    ]
    warm = plans._floor_bounds(lay, m, w, a, todo, 0.02)
    plans._FLOOR_BOUNDS.clear()
    assert plans._floor_bounds(lay, m, w, a, todo, 0.02) == warm


_X16_FABRIC = Fabric.from_layout(load_layout("gb200-nvl72-x16"))


@settings(max_examples=25, deadline=None)
@given(
    picks=st.lists(st.integers(0, 1151), min_size=2, max_size=300, unique=True),
    w=st.floats(1e-3, 1e9),
)
def test_all_to_all_leaf_traffic_and_spine_loads_on_the_busy_leaves_alone(
    picks: list[int], w: float
) -> None:
    """An all-to-all's leaf-to-leaf bytes are worked out on the leaves its members sit on,
    and the spine loads on the leaves that send or receive (marked as routed): the same as
    on the whole matrix (leaf L to L': w x (c_L c_L' - sum_d c_Ld c_L'd), none to itself;
    spread over the spines each pair of leaves shares, by uplinks)."""
    from topo import routing

    f = _X16_FABRIC
    members = np.array(picks, dtype=np.int64)
    loads = routing._all_to_all_loads(f, members, w)
    n = len(f.leaves)
    c = np.bincount(f.leaf[members], minlength=n).astype(float)
    T = np.outer(c, c)
    for d in np.unique(f.domain[members]).tolist():
        cd = np.bincount(f.leaf[members[f.domain[members] == d]], minlength=n).astype(float)
        T -= np.outer(cd, cd)
    np.fill_diagonal(T, 0.0)
    crosses = len(np.unique(f.domain[members])) > 1
    assert loads.leaf_traffic.tobytes() == (w * T if crosses else np.zeros((n, n))).tobytes()
    A = f.up
    B = (A > 0).astype(float)
    Z = A @ B.T
    # And a ring's (each member sends to the next: leaves that only send, or only receive).
    ring = routing.pair_loads(f, members, np.roll(members, 1), w)
    for got in (loads, ring):
        # The leaves the routes mark busy are those of the matrix's rows and columns not
        # zero (the spine loads read the marks, not the matrix).
        got_t = got.leaf_traffic
        assert (got.leaf_busy == (got_t.any(axis=1) | got_t.any(axis=0))).all()
        R = np.divide(got.leaf_traffic, Z, out=np.zeros((n, n)), where=Z > 0)
        up, down = got._spine_loads()
        np.testing.assert_allclose(up, A * (R @ B), rtol=1e-12, atol=0.0)
        np.testing.assert_allclose(down, B * (R.T @ A), rtol=1e-12, atol=0.0)


def test_all_to_all_loads_too_large_to_copy_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads are kept for the next design only where a copy is small (a 131,072-GPU
    fabric's hold 170 MB: copying them cost more than routing afresh, and 128 of them
    filled 19 GB)."""
    from topo import routing

    members = np.arange(0, 288, 3)
    routing._A2A.clear()
    kept = routing.all_to_all_loads(_X16_FABRIC, members, 1e6)
    assert len(routing._A2A) == 1
    assert kept.nbytes == sum(getattr(kept, a).nbytes for a in routing._LOAD_ARRAYS)
    routing._A2A.clear()
    monkeypatch.setattr(routing, "_A2A_MAX_BYTES", kept.nbytes - 1)
    fresh = routing.all_to_all_loads(_X16_FABRIC, members, 1e6)
    assert not routing._A2A
    assert fresh.leaf_traffic.tobytes() == kept.leaf_traffic.tobytes()


def test_steps_kept_ahead_as_stacks_are_each_plans_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_steps works out many plans' steps at once (runs of more than 8 batches as one
    stack, shorter ones as another); decode then finds each, and returns what it returns
    with nothing kept, to the bit."""
    from topo import perf
    from topo.perf import Workload, decode, keep_steps, plan_comm
    from topo.plans import candidate_plans

    lay, model, w = load_layout("gb200-nvl72"), load_model("deepseek-v3"), Workload(weights="fp8")
    fabric = Fabric.from_layout(lay)
    plans = candidate_plans(lay, model)[:24]
    runs = [(p, np.arange(1.0, 10.0 + i % 3) * p.dp) for i, p in enumerate(plans)]
    runs += [(plans[0], np.array([1.0, 4.0]) * plans[0].dp)]  # a short run: its own stack
    perf._BARE.clear()
    cold = [decode(lay, model, p, B, w, plan_comm(fabric, p)) for p, B in runs]
    perf._BARE.clear()
    keep_steps(lay, model, w, runs)
    _assert_kept_as_cold(monkeypatch, lay, model, w, runs, cold)


@pytest.mark.parametrize(
    ("layout", "model", "weights"),
    [("gb200-nvl72", "deepseek-v3", "fp8"), ("mi300x-8", "mixtral-8x7b", "bf16")],
)
def test_short_runs_kept_as_stacks_are_each_runs_own(
    monkeypatch: pytest.MonkeyPatch, layout: str, model: str, weights: str
) -> None:
    """Runs of 8 batches or fewer (each GEMM shape fitted exactly, not on the curves) are
    stacked apart from longer ones, each row fitted exactly: decode then finds each run's
    step, the same bits as the run alone from empty caches (fits included)."""
    from topo import kernels, perf
    from topo.perf import Workload, decode, keep_steps, plan_comm
    from topo.plans import candidate_plans

    lay, m, w = load_layout(layout), load_model(model), Workload(weights=weights)
    fabric = Fabric.from_layout(lay)
    plans = candidate_plans(lay, m)[:30]
    runs = [(p, np.arange(1.0, 1.0 + i % 8 + 1) * p.dp) for i, p in enumerate(plans)]
    runs += [(plans[0], np.arange(1.0, 12.0))]  # a long one among them: its own stack
    perf._BARE.clear()
    kernels._EXACT.clear()
    cold = [decode(lay, m, p, B, w, plan_comm(fabric, p)) for p, B in runs]
    perf._BARE.clear()
    kernels._EXACT.clear()
    stacks: list[int] = []
    real = perf._bare_stack
    monkeypatch.setattr(perf, "_bare_stack", lambda *a: stacks.append(len(a[2])) or real(*a))
    keep_steps(lay, m, w, runs)
    assert sorted(stacks) == [1, 30]  # the long run alone; the short ones together
    _assert_kept_as_cold(monkeypatch, lay, m, w, runs, cold)


def test_decode_many_is_decode_of_each_to_the_bit() -> None:
    """decode_many runs plans' long tables (1,024 batches, not kept) and short runs as
    stacks where it can; each result is decode's for that run alone."""
    from topo import perf
    from topo.perf import Workload, decode, decode_many, plan_comm
    from topo.plans import candidate_plans

    lay, model, w = load_layout("gb200-nvl72"), load_model("deepseek-v3"), Workload(weights="fp8")
    fabric = Fabric.from_layout(lay)
    plans = candidate_plans(lay, model)[:10]
    long_run = np.arange(1.0, 1025.0)
    runs = [(p, long_run, plan_comm(fabric, p)) for p in plans]
    runs += [(plans[1], np.array([3.0, 9.0]), None), (plans[2], np.arange(1.0, 40.0), None)]
    perf._BARE.clear()
    many = decode_many(lay, model, w, runs)
    assert len(perf._BARE) == 2  # the two short runs are kept; long tables are the caller's
    perf._BARE.clear()
    for (p, B, comm), got in zip(runs, many, strict=True):
        _assert_same_bits(decode(lay, model, p, B, w, comm), got)


def test_largest_batches_of_many_plans_are_each_plans_own() -> None:
    """The largest batch within a latency limit, found for many plans with their passes'
    steps stacked, is each plan's found alone from empty caches; and it meets the limit."""
    from topo import perf
    from topo.perf import Workload, decode, memory, plan_comm
    from topo.plans import _PATH_MARGIN, _largest_batches, candidate_plans, largest_batch_within

    lay, model, w = load_layout("gb200-nvl72"), load_model("deepseek-v3"), Workload(weights="fp8")
    fabric = Fabric.from_layout(lay)
    items = [
        (p, plan_comm(fabric, p), memory(lay, model, p, 1, w).max_batch)
        for p in candidate_plans(lay, model)[::7]
    ]
    perf._BARE.clear()
    many = _largest_batches(lay, model, w, items, 0.04)
    assert sum(b > 0 for b in many) >= 5
    for (p, comm, top), got in zip(items, many, strict=True):
        perf._BARE.clear()
        assert largest_batch_within(lay, model, p, w, comm, top, 0.04) == got
        if got:
            assert got % p.dp == 0
            # Alone, the batch runs on exact GEMM fits, not the curves: within the margin.
            tpot = decode(lay, model, p, np.array([float(got)]), w, comm).tpot[0]
            assert tpot <= 0.04 * (1 + _PATH_MARGIN)


@pytest.mark.parametrize(
    ("layout", "model", "weights", "batches"),
    [
        ("gb200-nvl72", "deepseek-v3", "fp8", (1, 7, 64, 300)),
        ("dgx-h100-superpod", "llama-3-70b", "bf16", (1, 33, 512)),
        ("mi300x-8", "mixtral-8x7b", "bf16", (2, 128)),
    ],
)
def test_a_scenario_picks_the_plan_every_plan_ranked_would(
    layout: str, model: str, weights: str, batches: tuple[int, ...]
) -> None:
    """A scenario completing a plan decodes only the plans whose bound (their step without
    collectives, on the tables' curve path) reaches the best; the plan it picks is the
    first of every runnable plan's decode table row ranked by (-tokens/s per GPU, time
    per token, GPUs), and no row is above its bound."""
    from topo.perf import decode, decode_tpots, memory, plan_comm
    from topo.plans import candidate_plans
    from topo.scenario import _BOUND_MARGIN, Scenario

    s = Scenario(layout, model, weights=weights)
    cands = candidate_plans(s.layout, s.model)
    fabric = Fabric.from_layout(s.layout)
    B = np.arange(1.0, 1025.0)
    for batch in batches:
        ok = [
            p
            for p in cands
            if p.dp <= batch <= memory(s.layout, s.model, p, 1, s.workload).max_batch
        ]
        rows = []
        bounds = decode_tpots(
            s.layout, s.model, s.workload, [(p, np.full(9, float(batch)), None) for p in ok]
        )
        for k, (p, (_, tps)) in enumerate(zip(ok, bounds, strict=True)):
            d = decode(s.layout, s.model, p, B, s.workload, plan_comm(fabric, p))
            row = -float(d.tokens_per_s[batch - 1]) / p.world
            assert -row <= float(tps[0]) / p.world * (1 + _BOUND_MARGIN)
            rows.append((row, float(d.tpot[batch - 1]), p.world, k))
        assert s._best(cands, batch) == (ok[min(rows)[3]] if rows else None)


def test_a_search_reports_naive_only_where_it_places_differently() -> None:
    """Each plan's naive placement is searched only where its ranks differ from packed's
    (rank lists compared once per pair: plans share them)."""
    from topo.perf import Workload
    from topo.place import plan_ranks
    from topo.plans import candidate_plans, search

    m = load_model("llama-3-70b")
    differ = []
    for name in ("gb200-nvl72", "dgx-h100-superpod"):  # naive the same as packed; not
        lay = load_layout(name)
        fabric = Fabric.from_layout(lay)
        rows = search(lay, fabric, m, Workload(), plans=candidate_plans(lay, m)[::5])
        got = {(r.plan, r.strategy) for r in rows}
        for p in {r.plan for r in rows}:
            differ.append(plan_ranks(fabric, p, strategy="naive") != plan_ranks(fabric, p))
            assert (p, "packed") in got
            assert ((p, "naive") in got) == differ[-1]
    assert set(differ) == {True, False}
