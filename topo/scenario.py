"""A scenario: a layout, its graph and network model, a model and a workload, built once.

:class:`Scenario` answers many questions of one set-up cheaply: the plan the CLI would
complete for a batch (:meth:`Scenario.plan`), an evaluation at any batch
(:meth:`Scenario.evaluate`), a sweep. Placements, collective costs, prefill and critical
batches are kept per plan; decode is computed for a run of batches at once and looked
up. The same functions build what ``topo evaluate``, ``sweep``, ``plot`` and ``serve``
print: :func:`make_workload` (the workload options), :func:`complete_plan` (a plan
given in part) and :func:`serving_plan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from topo.errors import TopoError
from topo.evaluation import PlanParts, check_fits, evaluate, plan_parts, sweep
from topo.fidelity import Fidelity
from topo.layout import Layout, load_layout
from topo.models import Model, load_model
from topo.perf import (
    CommModel,
    DecodeTerms,
    Workload,
    decode,
    decode_many,
    decode_tpots,
    memory,
    plan_comm,
)
from topo.place import Plan
from topo.plans import PlanRow, candidate_plans, rank, search, search_bounded
from topo.results import Evaluation, Sweep
from topo.routing import Fabric

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "Degrees",
    "Scenario",
    "complete_plan",
    "make_fidelity",
    "make_workload",
    "resolve_layout",
    "resolve_model",
    "serving_plan",
]

DEGREES = ("tp", "ep", "pp", "dp")


class Degrees(TypedDict, total=False):
    """Plan degrees given in part [GPUs] (None or absent: completed by the search).

    ``tp``, ``ep``, ``pp``, ``dp``: tensor-, expert-, pipeline- and data-parallel degrees.
    """

    tp: int | None
    ep: int | None
    pp: int | None
    dp: int | None


# Decode is computed for batches 1..TABLE at once per plan; larger batches one by one.
TABLE = 4096


def resolve_layout(layout: str | Path | Layout, catalogue: Sequence[str] = ()) -> Layout:
    """A layout from a bundled name, a YAML path, or a :class:`Layout` as it is.

    `catalogue`: extra catalogue files [paths] the layout may name entries of.
    """
    if isinstance(layout, Layout):
        return layout
    return load_layout(str(layout), catalogue=tuple(catalogue))


def resolve_model(model: str | Path | Model) -> Model:
    """A model from a catalogue name, a YAML path, or a :class:`Model` as it is."""
    return model if isinstance(model, Model) else load_model(str(model))


def make_fidelity(
    *,
    clean: bool = False,
    calibration: str | None = None,
    accepted_tokens: float | None = None,
    draft_tokens: int | None = None,
    prefill_chunk: float | None = None,
    context_cv: float | None = None,
) -> Fidelity:
    """The loss terms: the measured defaults, a calibration profile, or none (`clean`).

    Speculation (`accepted_tokens` per step of `draft_tokens` drafts) composes with every
    choice; the other terms are off on the clean roofline. Out-of-range values are
    input errors naming the option.

    Parameters
    ----------
    clean
        No loss terms: the clean roofline (speculation still counts).
    calibration
        A profile file written by ``topo calibrate`` [path].
    accepted_tokens
        Tokens a step emits per sequence, 1 to 16 [tokens] (default 1).
    draft_tokens
        Draft tokens a step verifies per sequence, 0 to 64 [tokens] (default 0).
    prefill_chunk
        Prompt tokens each attention rank adds to every decode step [tokens] (default 0).
    context_cv
        Spread of context lengths, standard deviation over mean, 0 to 10 [1].
    """
    from topo.fidelity import CLEAN, DEFAULT, load_profile

    base = CLEAN if clean else (load_profile(calibration) if calibration else DEFAULT)
    changes: dict[str, float] = {}
    for flag, name, value, lo, hi in (
        ("accepted-tokens", "accepted_tokens_per_step", accepted_tokens, 1.0, 16.0),
        ("draft-tokens", "draft_tokens", draft_tokens, 0, 64),
        ("prefill-chunk", "prefill_chunk_tokens", prefill_chunk, 0.0, 1e6),
        ("context-cv", "context_cv", context_cv, 0.0, 10.0),
    ):
        if value is None:
            continue
        if clean and name not in ("accepted_tokens_per_step", "draft_tokens"):
            continue  # --clean turns the loss terms off; speculation still composes
        if not lo <= value <= hi:
            msg = f"--{flag} must be from {lo:g} to {hi:g}, got {value:g}"
            raise TopoError(msg)
        changes[name] = value
    drafts = changes.get("draft_tokens", base.draft_tokens)
    if changes.get("accepted_tokens_per_step", 1.0) > 1 + drafts:
        msg = "--accepted-tokens cannot exceed 1 + --draft-tokens (the tokens a step verifies)"
        raise TopoError(msg)
    return dataclasses.replace(base, **changes) if changes else base  # type: ignore[arg-type]


def make_workload(
    *,
    input: int = 1024,  # noqa: A002 - the CLI's name for prompt tokens
    output: int = 128,
    context: float | None = None,
    weights: str = "bf16",
    kv: str = "bf16",
    compute: str | None = None,
    gpu_hour_usd: float = 2.0,
    overlap: str = "none",
    ideal: bool = False,
    attention_kernel: str = "grouped",
    **fidelity: Any,
) -> Workload:
    """A checked :class:`Workload` from the CLI's options (tokens, dtypes, price [USD/h]).

    Parameters
    ----------
    input
        Prompt tokens per request [tokens].
    output
        Generated tokens per request [tokens].
    context
        The context a decode step reads [tokens]; None: input + output / 2.
    weights, kv
        Dtypes of the weights and of the KV cache, e.g. ``"bf16"``, ``"fp8"``.
    compute
        Matmul dtype; None: the weights' if the chip has it, else bf16.
    gpu_hour_usd
        Price of one GPU-hour [USD].
    overlap
        Collectives hidden behind compute: ``"none"``, ``"full"`` or per term,
        ``"tp=none,ep=full"``.
    ideal
        Peak FLOP/s and bandwidth, no communication (the seed's formulas).
    attention_kernel
        Decode attention of GQA models: ``"grouped"`` or ``"per-query-head"``.
    **fidelity
        :func:`make_fidelity`'s keywords (clean, calibration, accepted_tokens [tokens],
        draft_tokens [tokens], prefill_chunk [tokens], context_cv [1]).
    """
    w = Workload(
        input_tokens=input,
        output_tokens=output,
        context=context,
        weights=weights,
        kv=kv,
        compute=compute,
        gpu_hour_usd=gpu_hour_usd,
        overlap=overlap,
        ideal=ideal,
        fidelity=make_fidelity(**fidelity),
        attention_kernel=attention_kernel,
    )
    w.check()
    return w


def _given(degrees: dict[str, int | None], model: Model) -> dict[str, int]:
    given = {k: v for k, v in degrees.items() if v}
    if not model.is_moe and "ep" not in given and len(given) < 4:
        given.setdefault("ep", 1)
    return given


def _filled(given: dict[str, int]) -> Plan:
    """The given degrees with the others at 1 (e.g. --tp 6, which the search never tries)."""
    full = {"tp": 1, "ep": 1, "pp": 1, "dp": 1, **given}
    if full["ep"] > full["tp"] * full["dp"]:
        full["tp"] = full["ep"]
    return Plan(**full)


def complete_plan(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    workload: Workload,
    batch: int,
    *,
    strategy: str = "packed",
    **degrees: int | None,
) -> Plan:
    """The plan given (`tp`, `ep`, `pp`, `dp` [GPUs]), completed where left out.

    The best for tokens/s per GPU that fits at `batch` [sequences]; pipeline stages only
    when nothing else fits. The reference for :meth:`Scenario.plan`, which applies the
    same rules.

    Parameters
    ----------
    layout, G, model, workload
        The set-up: a checked layout, its graph (or its fabric), the model, the workload.
    batch
        Sequences decoded together [sequences].
    strategy
        ``"packed"`` or ``"naive"`` placement.
    **degrees
        ``tp``, ``ep``, ``pp``, ``dp`` given [GPUs]; None or absent: completed.
    """
    given = {k: v for k, v in degrees.items() if v}
    if len(given) == 4 or (given and not model.is_moe and set(given) >= {"tp", "pp", "dp"}):
        return Plan(**given)
    given = _given(degrees, model)
    cands = [p for p in candidate_plans(layout, model) if _matches(p, given)]
    if "pp" not in given:
        # Pipeline stages add capacity, not speed: use them only when nothing else fits.
        flat = [p for p in cands if p.pp == 1]
        if flat and search(
            layout, G, model, workload, plans=flat, batches=[batch], strategies=(strategy,)
        ):
            cands = flat
    if not cands and given:
        return _filled(given)
    rows = search(layout, G, model, workload, plans=cands, batches=[batch], strategies=(strategy,))
    if rows:
        return rank(rows, "throughput")[0].plan
    return _smallest_that_fits(layout, model, workload, cands, batch)


def _matches(plan: Plan, given: dict[str, int]) -> bool:
    return all(getattr(plan, k) == v for k, v in given.items())


def _smallest_that_fits(
    layout: Layout, model: Model, workload: Workload, cands: list[Plan], batch: int
) -> Plan:
    """The candidate with the least memory over, if it fits (else the memory error)."""
    smallest = min(
        cands,
        key=lambda p: memory(layout, model, p, batch, workload).over_by_bytes,
        default=None,
    )
    if smallest is None:
        msg = "no plan matches the degrees given"
        raise TopoError(msg)
    check_fits(memory(layout, model, smallest, batch, workload), smallest, batch)
    return smallest  # fits, but the batch leaves data-parallel ranks idle


def serving_plan(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    workload: Workload,
    *,
    strategy: str = "packed",
    progress: Callable[[int, int], None] | None = None,
    **degrees: int | None,
) -> Plan:
    """The plan given, or the one with the most tokens/s per GPU at a batch that fits.

    `degrees`: ``tp``, ``ep``, ``pp``, ``dp`` [GPUs], None or absent where left out;
    `progress`: the search's (:func:`topo.plans.search_bounded`'s plans passed, packed;
    :func:`topo.plans.search`'s, naive), when a plan is searched for.
    """
    if any(degrees.values()):
        from topo.evaluation import check_plan

        plan = complete_plan(layout, G, model, workload, 1, strategy=strategy, **degrees)
        check_plan(model, plan)  # whole heads on each rank, as evaluate requires
        return plan
    if strategy != "packed":
        rows = search(layout, G, model, workload, strategies=(strategy,), progress=progress)
        if not rows:
            msg = f"{model.name} fits on no plan of {layout.name}"
            raise TopoError(msg)
        return rank(rows, "throughput")[0].plan
    return _best_packed(layout, G, model, workload, progress)


def _best_packed(
    layout: Layout,
    G: nx.Graph | Fabric,
    model: Model,
    workload: Workload,
    progress: Callable[[int, int], None] | None,
) -> Plan:
    """:func:`search`'s first plan by throughput, packed, from the plans that can rank first.

    :func:`topo.plans.search_bounded` runs only the plans whose bound can still beat the
    best found; every row that could rank first is among its rows. Of rows that tie on
    the ranking's keys, the one :func:`search` meets first wins (candidate order, then
    batch), as its stable sort picks it.
    """
    plans = candidate_plans(layout, model)
    fabric = G if isinstance(G, Fabric) else None
    rows = search_bounded(
        layout, G, model, workload, plans, max_latency_s=None, weight=_one, fabric=fabric,
        progress=progress,
    )  # fmt: skip
    if not rows:
        msg = f"{model.name} fits on no plan of {layout.name}"
        raise TopoError(msg)
    first = rank(rows, "throughput")[0]
    order = {p: i for i, p in enumerate(plans)}

    def key(r: PlanRow) -> tuple[float, float, int]:
        return (-r.tokens_per_s_per_gpu, r.time_per_output_token_s, r.gpus)

    ties = [(order[r.plan], i, r) for i, r in enumerate(rows) if key(r) == key(first)]
    return min(ties, key=lambda t: t[:2])[2].plan


def _one(_: PlanRow) -> float:
    return 1.0


# Plans whose decode tables a scenario works out together when it ranks them.
_AHEAD = 64
# A bound on a plan's tokens/s per GPU is raised by this much: the step without
# collectives is the decode table's own (the same curve path, element by element), so
# only rounding could put a plan's row above it.
_BOUND_MARGIN = 1e-9


@dataclass
class _Table:
    """Decode of one plan over batches 1..n, computed once."""

    decoded: DecodeTerms
    n: int


class Scenario:
    """A layout, a model and a workload, built once; questions at any batch are cheap.

    Parameters
    ----------
    layout
        A bundled layout's name, a layout YAML path, or a :class:`topo.Layout`.
    model
        A catalogue model's name, a model YAML path, or a model.
    catalogue
        Extra catalogue files [paths] the layout may name entries of.
    strategy
        Where ranks land: ``"packed"`` (groups inside a scale-up domain) or ``"naive"``.
    workload
        A built workload; else one is made from `options`.
    **options
        :func:`make_workload`'s keywords: `input`, `output`, `context` [tokens], dtypes,
        `gpu_hour_usd` [USD per GPU-hour], loss terms.

    Attributes
    ----------
    layout, model, workload, strategy
        What the scenario was built from, checked.
    graph
        The layout's graph (:func:`topo.build_graph`).
    fabric
        Routes and link loads on the graph, kept for the collectives' costs.

    Examples
    --------
    >>> s = Scenario("dgx-h100", "llama-3-70b")
    >>> r = s.evaluate(batch=1, tp=8)
    >>> r.plan.tp, r.decode.bound
    (8, 'memory')
    """

    layout: Layout
    model: Model
    workload: Workload
    strategy: str
    fabric: Fabric
    progress: Callable[[int, int], None] | None

    def __init__(
        self,
        layout: str | Path | Layout,
        model: str | Path | Model,
        *,
        catalogue: Sequence[str] = (),
        strategy: str = "packed",
        workload: Workload | None = None,
        progress: Callable[[int, int], None] | None = None,
        **options: Any,
    ) -> None:
        """`options`: :func:`make_workload`'s keywords (input, output, weights, ...).

        `progress`: called as ``progress(done, total)`` [plans] as candidate plans are
        ranked to complete a plan (hundreds on a large layout): the plans that run the
        batch, best bound first, the rest at once when none left can be the best.
        """
        self.progress = progress
        if strategy not in ("packed", "naive"):
            msg = f"strategy must be packed or naive, got {strategy!r}"
            raise TopoError(msg)
        self.layout = resolve_layout(layout, catalogue)
        self.model = resolve_model(model)
        self.workload = workload if workload is not None else make_workload(**options)
        self.strategy = strategy
        # The fabric laid out from the layout: the graph is built only if asked for.
        self.fabric = Fabric.from_layout(self.layout)
        self._parts: dict[Plan, PlanParts] = {}
        self._tables: dict[Plan, _Table] = {}
        self._comms: dict[Plan, CommModel] = {}
        self._chosen: dict[tuple[int, tuple[int | None, ...]], Plan] = {}
        self._cands: dict[tuple[tuple[str, int], ...], list[Plan]] = {}
        self._max_batch: dict[Plan, int] = {}
        self._bests: dict[tuple[tuple[Plan, ...], int], Plan | None] = {}

    @property
    def graph(self) -> nx.Graph:
        """The layout's graph (:func:`topo.build_graph`), built when first asked for."""
        return self.fabric.G

    def parts(self, plan: Plan) -> PlanParts:
        """The plan's placement, collective costs, prefill and critical batches (kept)."""
        if plan not in self._parts:
            self._parts[plan] = plan_parts(
                self.layout,
                self.fabric,
                self.model,
                plan,
                self.workload,
                strategy=self.strategy,
                fabric=self.fabric,
            )
        return self._parts[plan]

    def plan(
        self,
        batch: int = 1,
        *,
        tp: int | None = None,
        ep: int | None = None,
        pp: int | None = None,
        dp: int | None = None,
    ) -> Plan:
        """The plan ``topo evaluate`` would run at `batch` with these degrees given.

        Parameters
        ----------
        batch
            Sequences decoded together [sequences].
        tp, ep, pp, dp
            Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; None: completed.
        """
        key = (batch, (tp, ep, pp, dp))
        if key not in self._chosen:
            self._chosen[key] = self._complete(batch, {"tp": tp, "ep": ep, "pp": pp, "dp": dp})
        return self._chosen[key]

    def _complete(self, batch: int, degrees: dict[str, int | None]) -> Plan:
        """:func:`complete_plan` on the scenario's kept decode tables (same rules)."""
        given = {k: v for k, v in degrees.items() if v}
        if len(given) == 4 or (
            given and not self.model.is_moe and set(given) >= {"tp", "pp", "dp"}
        ):
            return Plan(**given)
        given = _given(degrees, self.model)
        key = tuple(sorted(given.items()))
        if key not in self._cands:
            every = candidate_plans(self.layout, self.model)
            self._cands[key] = [p for p in every if _matches(p, given)]
        cands = self._cands[key]
        if "pp" not in given:
            flat = [p for p in cands if p.pp == 1]
            if self._best(flat, batch) is not None:
                cands = flat
        if not cands and given:
            return _filled(given)
        best = self._best(cands, batch)
        if best is not None:
            return best
        return _smallest_that_fits(self.layout, self.model, self.workload, cands, batch)

    def _best(self, cands: list[Plan], batch: int) -> Plan | None:
        """The best of `cands` at `batch`, as :func:`topo.plans.rank` orders the search.

        By (-tokens/s per GPU, time per token, GPUs), first in order on ties. Only the
        plans that run `batch` (dp <= batch <= their memory limit) compete, best bound
        first: a plan's step without collectives at `batch` bounds its tokens/s per GPU
        from above (collectives only add time), and the plans whose bound is below the
        best found are neither placed nor decoded. The bounds run on the kernel layer's
        curve path, as the decode tables do, so they are the tables' own steps without
        collectives (raised by :data:`_BOUND_MARGIN` for rounding).
        """
        if batch > TABLE or not cands:
            rows = [(row, p) for p in cands if (row := self._row(p, batch)) is not None]
            return min(rows, key=lambda r: r[0])[1] if rows else None
        key = (tuple(cands), batch)
        if key not in self._bests:
            self._bests[key] = self._best_bounded(cands, batch)
        return self._bests[key]

    def _best_bounded(self, cands: list[Plan], batch: int) -> Plan | None:
        """:meth:`_best` at a batch of the decode tables: best bound first, as it says."""
        ok = [k for k, p in enumerate(cands) if p.dp <= batch <= self._max_batch_of(p)]
        at = np.full(9, float(batch))  # more than 8 batches: the curve path
        steps = decode_tpots(
            self.layout, self.model, self.workload, [(cands[k], at, None) for k in ok]
        )
        bounds = sorted(
            (-float(tps[0]) / cands[k].world * (1 + _BOUND_MARGIN), k)
            for k, (_, tps) in zip(ok, steps, strict=True)
        )
        best: tuple[float, float, int, int] | None = None
        n = max(1024, 1 << (batch - 1).bit_length())
        for i, (neg_ub, k) in enumerate(bounds):
            if best is not None and neg_ub > best[0]:
                break  # this plan and every later one is below the best
            if i % _AHEAD == 0:  # the next plans still above the best, decoded together
                ahead = [
                    cands[j] for nb, j in bounds[i : i + _AHEAD] if best is None or nb <= best[0]
                ]
                self._tables_ahead(ahead, n)
            plan = cands[k]
            d, col = self._decoded(plan, batch)
            key = (-float(d.tokens_per_s[col]) / plan.world, float(d.tpot[col]), plan.world, k)
            best = key if best is None or key < best else best
            if self.progress is not None:
                self.progress(i + 1, len(bounds))
        if self.progress is not None:
            self.progress(len(bounds), len(bounds))
        return cands[best[3]] if best is not None else None

    def _tables_ahead(self, plans: list[Plan], n: int) -> None:
        """Decode tables over batches 1..n for `plans` that run some batch and lack one.

        Their steps without collectives are worked out as stacks
        (:func:`topo.perf.decode_many`: the same terms as one plan at a time).
        """
        todo = [
            p
            for p in plans
            if self._max_batch_of(p) >= p.dp and (p not in self._tables or self._tables[p].n < n)
        ]
        if not todo:
            return
        B = np.arange(1, n + 1, dtype=float)
        runs = [(p, B, self._comm(p)) for p in todo]
        for p, d in zip(
            todo, decode_many(self.layout, self.model, self.workload, runs), strict=True
        ):
            self._tables[p] = _Table(d, n)

    def _max_batch_of(self, plan: Plan) -> int:
        if plan not in self._max_batch:
            mem = memory(self.layout, self.model, plan, 1, self.workload)
            self._max_batch[plan] = mem.max_batch if mem.fits else 0
        return self._max_batch[plan]

    def _row(self, plan: Plan, batch: int) -> tuple[float, float, int] | None:
        """The ranking key of `plan` at `batch` (best first), or None if it cannot run it."""
        if not plan.dp <= batch <= self._max_batch_of(plan):
            return None
        d, i = self._decoded(plan, batch)
        tpot = float(d.tpot[i])
        return (-float(d.tokens_per_s[i]) / plan.world, tpot, plan.world)

    def _comm(self, plan: Plan) -> CommModel:
        """The plan's collectives: its parts', else from its timed groups alone.

        The same lines, without placing every rank (ranking hundreds of plans on a large
        layout places none of them).
        """
        if plan in self._parts:
            return self._parts[plan].comm
        if plan not in self._comms:
            self._comms[plan] = plan_comm(self.fabric, plan, self.strategy)
        return self._comms[plan]

    def _decoded(self, plan: Plan, batch: int) -> tuple[DecodeTerms, int]:
        """Decode arrays holding `batch`, and its index: batches 1..n computed at once."""
        if batch > TABLE:
            B = np.array([float(batch)])
            return decode(self.layout, self.model, plan, B, self.workload, self._comm(plan)), 0
        table = self._tables.get(plan)
        if table is None or batch > table.n:
            n = max(1024, 1 << (batch - 1).bit_length())
            B = np.arange(1, n + 1, dtype=float)
            comm = self._comm(plan)
            table = _Table(decode(self.layout, self.model, plan, B, self.workload, comm), n)
            self._tables[plan] = table
        return table.decoded, batch - 1

    def evaluate(
        self,
        batch: int = 1,
        *,
        plan: Plan | None = None,
        tp: int | None = None,
        ep: int | None = None,
        pp: int | None = None,
        dp: int | None = None,
        check_memory: bool = True,
    ) -> Evaluation:
        """``topo evaluate`` at `batch`: the plan given, or completed as the CLI does.

        With `check_memory` a batch that does not fit is an error (as in the CLI);
        without it the result says so in ``memory.fits``.

        Parameters
        ----------
        batch
            Sequences decoded together, one token each per step [sequences].
        plan
            The whole plan; else completed from `tp`, `ep`, `pp`, `dp` [GPUs].
        tp, ep, pp, dp
            Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; None: completed.
        check_memory
            Whether a batch that does not fit in HBM is an error.
        """
        if batch < 1:
            msg = f"--batch must be >= 1, got {batch}"
            raise TopoError(msg)
        plan = plan or self.plan(batch, tp=tp, ep=ep, pp=pp, dp=dp)
        from topo.evaluation import check_plan

        check_plan(self.model, plan)
        result = evaluate(
            self.layout,
            self.fabric,
            self.model,
            plan,
            batch,
            self.workload,
            strategy=self.strategy,
            fabric=self.fabric,
            parts=self.parts(plan),
            decoded=self._decoded(plan, batch),
        )
        if check_memory:
            check_fits(result.memory, plan, batch)
        return result

    def sweep(
        self,
        batches: Sequence[int],
        *,
        plan: Plan | None = None,
        tp: int | None = None,
        ep: int | None = None,
        pp: int | None = None,
        dp: int | None = None,
    ) -> Sweep:
        """``topo sweep``: one plan (completed at the smallest batch) across `batches`.

        Parameters
        ----------
        batches
            Batches to run [sequences].
        plan
            The whole plan; else completed from `tp`, `ep`, `pp`, `dp`.
        tp, ep, pp, dp
            Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; None: completed.
        """
        bs = sorted({int(b) for b in batches})
        if not bs or bs[0] < 1:
            msg = f"batches must be whole numbers >= 1, got {list(batches)!r}"
            raise TopoError(msg)
        plan = plan or self.plan(bs[0], tp=tp, ep=ep, pp=pp, dp=dp)
        from topo.evaluation import check_plan

        check_plan(self.model, plan)
        return sweep(
            self.layout,
            self.fabric,
            self.model,
            plan,
            bs,
            self.workload,
            strategy=self.strategy,
            parts=self.parts(plan),
        )

    def records(
        self,
        batches: Sequence[int],
        *,
        tp: int | None = None,
        ep: int | None = None,
        pp: int | None = None,
        dp: int | None = None,
    ) -> list[dict[str, Any]]:
        """One flat row per batch (each with the plan the CLI would complete there).

        Rows as :meth:`topo.Evaluation.record`: times [s], tokens/s, cost [USD per million
        tokens]; a batch that does not fit is a row with ``fits`` False.

        Parameters
        ----------
        batches
            Batches to run [sequences].
        tp, ep, pp, dp
            Tensor-, expert-, pipeline- and data-parallel degrees [GPUs]; None: completed.
        """
        return [
            self.evaluate(int(b), tp=tp, ep=ep, pp=pp, dp=dp, check_memory=False).record()
            for b in batches
        ]


ProgressCallback = Callable[[int, int], None]
