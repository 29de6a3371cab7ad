"""Design-space studies: every combination a study file names, assessed, with a Pareto front.

A study file (YAML)::

    name: domain-vs-nic
    layouts: [gb200-nvl72]              # bundled names or files
    vary:                               # every combination of these
      domain_gpus: [8, 16, 36, 72, 144, 288, 576]
      nic: ["400 Gb/s", "800 Gb/s", "1600 Gb/s"]
    cluster_gpus: 1152                  # optional: the cluster's size, kept fixed
    models: [deepseek-v3]
    workloads: [{input: 1024, output: 256, weights: fp8}]
    objectives: [usd_per_million_tco, tokens_per_s_per_gpu, tokens_per_s_per_kw]
    constraints: {slo_tpot_ms: 50, slo_ttft_ms: 2000, physical: true}
    max_replica_gpus: 576               # optional: largest model replica the plan search tries
    costs: {usd_per_kwh: 0.12}          # optional: TCO inputs (topo/data/costs.yaml)

``run_study`` assesses each design (:func:`topo.design.assess`) serially, on local
processes or on a Dask cluster, appending each result to ``results.jsonl`` as it comes (a
rerun skips what is there), then writes ``results.json``, ``results.csv`` and the summary.
Results are sorted by design id and carry no timing, so every mode gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from topo._yaml import Located, load_located
from topo.design import DESIGN_KEYS, assess
from topo.errors import LayoutError, Problem, TopoError
from topo.layout import Layout, load_layout
from topo.physical import VARY_KEYS

__all__ = [
    "OBJECTIVES",
    "StudySummary",
    "fronts",
    "load_study",
    "pareto_front",
    "run_study",
    "served",
    "study_designs",
    "varied",
    "workload_label",
]

# Objective -> +1 when more is better, -1 when less is.
OBJECTIVES = {
    "usd_per_million_tco": -1,
    "usd_per_million_gpu_hour": -1,
    "tokens_per_s_per_gpu": +1,
    "tokens_per_s_per_kw": +1,
    "time_per_output_token_s": -1,
    "time_to_first_token_s": -1,
}
_TOP_KEYS = {
    "name",
    "layouts",
    "vary",
    "cluster_gpus",
    "models",
    "workloads",
    "objectives",
    "constraints",
    "max_replica_gpus",
    "costs",
}
_WORKLOAD_KEYS = {"input", "output", "context", "weights", "kv", "gpu_hour_usd"}
_CONSTRAINT_KEYS = {"slo_tpot_ms", "slo_ttft_ms", "physical"}


def load_study(path: str | Path) -> dict[str, Any]:
    """A study file, checked: every problem named with its file, line and key."""
    from topo.layout import MAX_GPUS
    from topo.models import load_model

    doc = load_located(path)
    d = doc.data
    problems: list[Problem] = []
    if not isinstance(d, dict):
        raise LayoutError(doc.problem((), "expected a mapping (name, layouts, vary, models, ...)"))
    for k in d:
        if k not in _TOP_KEYS:
            problems.append(doc.problem((k,), f"unknown key; expected one of {sorted(_TOP_KEYS)}"))
    layouts = _names(doc, "layouts", load_layout, problems)
    models = _names(doc, "models", load_model, problems)
    vary = _vary(doc, problems)
    workloads = _workloads(doc, problems)
    objectives = _objectives(doc, problems)
    constraints = _constraints(doc, problems)
    _check_int(doc, d, "cluster_gpus", problems)
    if isinstance(d.get("cluster_gpus"), int) and d["cluster_gpus"] > MAX_GPUS:
        msg = f"{d['cluster_gpus']:,} GPUs; topo models at most {MAX_GPUS:,}"
        problems.append(doc.problem(("cluster_gpus",), msg))
    _check_int(doc, d, "max_replica_gpus", problems)
    costs = d.get("costs") or {}
    if not isinstance(costs, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in costs.values()
    ):
        problems.append(doc.problem(("costs",), "expected a mapping of cost inputs to numbers"))
        costs = {}
    if not problems:
        _check_values(doc, layouts, vary, workloads, costs, problems)
    if problems:
        raise LayoutError(problems)
    return {
        "name": str(d.get("name", Path(path).stem)),
        "layouts": layouts,
        "vary": vary,
        "cluster_gpus": d.get("cluster_gpus"),
        "models": models,
        "workloads": workloads,
        "objectives": objectives,
        "constraints": constraints,
        "max_replica_gpus": d.get("max_replica_gpus"),
        "costs": costs,
    }


def _names(
    doc: Located, key: str, check: Callable[[str], object], problems: list[Problem]
) -> list[str]:
    """A study's non-empty list of names under `key`, each one checked by `check`."""
    v = doc.data.get(key)
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        problems.append(doc.problem((key,), "expected a non-empty list of names"))
        return []
    for i, x in enumerate(v):
        try:
            check(x)
        except TopoError as e:
            problems.append(doc.problem((key, i), str(e).split("\n")[0]))
    return list(v)


def _vary(doc: Located, problems: list[Problem]) -> dict[str, Any]:
    """A study's ``vary`` mapping: design or rack keys, each with a non-empty list."""
    vary = doc.data.get("vary") or {}
    if not isinstance(vary, dict):
        problems.append(doc.problem(("vary",), "expected a mapping of key: [values]"))
        vary = {}
    for k, v in vary.items():
        if k not in DESIGN_KEYS and k not in VARY_KEYS:
            known = sorted({*DESIGN_KEYS, *VARY_KEYS})
            problems.append(doc.problem(("vary", k), f"unknown key; expected one of {known}"))
        if not isinstance(v, list) or not v:
            problems.append(doc.problem(("vary", k), "expected a non-empty list of values"))
    return vary


def _workloads(doc: Located, problems: list[Problem]) -> list[dict[str, Any]]:
    """A study's ``workloads``: a list of mappings of known keys (default one empty)."""
    workloads = doc.data.get("workloads") or [{}]
    if not isinstance(workloads, list) or not all(isinstance(w, dict) for w in workloads):
        problems.append(doc.problem(("workloads",), "expected a list of mappings"))
        workloads = [{}]
    for i, w in enumerate(workloads):
        for k in w:
            if k not in _WORKLOAD_KEYS:
                problems.append(
                    doc.problem(
                        ("workloads", i, k), f"unknown key; expected {sorted(_WORKLOAD_KEYS)}"
                    )
                )
    return workloads


def _objectives(doc: Located, problems: list[Problem]) -> list[str]:
    """A study's ``objectives``: two or more of :data:`OBJECTIVES` (default cost, tokens/s)."""
    objectives = doc.data.get("objectives") or ["usd_per_million_tco", "tokens_per_s_per_gpu"]
    if not isinstance(objectives, list) or len(objectives) < 2:
        problems.append(doc.problem(("objectives",), "expected a list of two or more objectives"))
        objectives = []
    for i, o in enumerate(objectives):
        if not isinstance(o, str) or o not in OBJECTIVES:
            problems.append(doc.problem(("objectives", i), f"expected one of {sorted(OBJECTIVES)}"))
    return objectives


def _constraints(doc: Located, problems: list[Problem]) -> dict[str, Any]:
    """A study's ``constraints``: service-level times in milliseconds and ``physical``."""
    constraints = doc.data.get("constraints") or {}
    if not isinstance(constraints, dict):
        problems.append(doc.problem(("constraints",), "expected a mapping"))
        constraints = {}
    for k, v in constraints.items():
        if k not in _CONSTRAINT_KEYS:
            problems.append(
                doc.problem(("constraints", k), f"unknown key; expected {sorted(_CONSTRAINT_KEYS)}")
            )
        elif k != "physical" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            problems.append(
                doc.problem(("constraints", k), f"expected milliseconds > 0, got {v!r}")
            )
    return constraints


def _check_values(
    doc: Located,
    layouts: list[str],
    vary: dict[str, Any],
    workloads: list[dict[str, Any]],
    costs: dict[str, Any],
    problems: list[Problem],
) -> None:
    """Each variation applied alone to each layout, each workload and cost input checked."""
    from topo.design import apply_design, cost_inputs, cost_problem, design_workload
    from topo.layout import MAX_GPUS

    bases = [load_layout(name) for name in layouts]
    for key, values in vary.items():
        for j, value in enumerate(values):
            for base in bases:
                try:
                    lay = apply_design(base, {key: value})
                except TopoError as e:
                    problems.append(doc.problem(("vary", key, j), f"{base.name}: {e}"))
                    break
                if lay.n_gpus > MAX_GPUS or (key == "cluster_gpus" and value > MAX_GPUS):
                    msg = f"{base.name}: {max(lay.n_gpus, value if key == 'cluster_gpus' else 0):,}"
                    msg += f" GPUs; topo models at most {MAX_GPUS:,}"
                    problems.append(doc.problem(("vary", key, j), msg))
                    break
    for i, w in enumerate(workloads):
        try:
            design_workload(w).check()
        except (TopoError, TypeError, ValueError) as e:
            problems.append(doc.problem(("workloads", i), str(e).splitlines()[0]))
    known = cost_inputs()
    for k in costs:
        if k not in known:
            problems.append(
                doc.problem(("costs", k), f"unknown cost input; known: {sorted(known)}")
            )
        elif why := cost_problem(k, costs[k]):
            problems.append(doc.problem(("costs", k), why))


def _check_int(doc: Located, d: dict[str, Any], key: str, problems: list[Problem]) -> None:
    v = d.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        problems.append(doc.problem((key,), f"expected a whole number >= 1, got {v!r}"))


def study_designs(study: dict[str, Any]) -> list[dict[str, Any]]:
    """Every design of a study, in a fixed order, each with a stable id."""
    keys = sorted(study["vary"])
    combos = list(itertools.product(*(study["vary"][k] for k in keys))) if keys else [()]
    c = study["constraints"]
    several = len(study["workloads"]) > 1  # then each row names its workload
    designs = []
    n = 0
    for layout in study["layouts"]:
        for combo in combos:
            vary = dict(zip(keys, combo, strict=True))
            if study.get("cluster_gpus"):
                vary["cluster_gpus"] = study["cluster_gpus"]
            for model in study["models"]:
                for w in study["workloads"]:
                    n += 1
                    designs.append(
                        {
                            "id": f"d{n:05d}",
                            "layout": layout,
                            "vary": vary,
                            "model": model,
                            **w,
                            "slo_tpot_s": c["slo_tpot_ms"] / 1e3 if "slo_tpot_ms" in c else None,
                            "slo_ttft_s": c["slo_ttft_ms"] / 1e3 if "slo_ttft_ms" in c else None,
                            "physical": bool(c.get("physical", True)),
                            "max_replica_gpus": study.get("max_replica_gpus") or 0,
                            "costs": study.get("costs") or {},
                            **({"workload": dict(w)} if several else {}),
                        }
                    )
    return designs


def pareto_front(rows: list[dict[str, Any]], objectives: list[str]) -> list[str]:
    """Ids of the feasible designs no other feasible design beats on every objective.

    Of `rows` as given: a study takes one front for each model and workload
    (:func:`served`), since its designs compete to serve the same demand.
    """
    pts = [
        (r["id"], [OBJECTIVES[o] * float(r[o]) for o in objectives])
        for r in rows
        if r["feasible"] and all(r.get(o) is not None for o in objectives)
    ]
    front = []
    for i, a in pts:
        dominated = any(
            all(x >= y for x, y in zip(b, a, strict=True)) and b != a for j, b in pts if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front)


_Row = TypeVar("_Row", bound=Mapping[str, Any])


def fronts(rows: list[dict[str, Any]], objectives: list[str]) -> dict[str, int]:
    """The Pareto front of each model and workload (:func:`served`), merged.

    By id, sorted: how many feasible designs serving the same model and workload the
    design beats on every objective.
    """
    dominates = {}
    for group in served(rows).values():
        rivals = {r["id"]: dict(r) for r in group}
        beaten = [r for r in rivals.values() if r["feasible"]]
        for i in pareto_front(list(rivals.values()), objectives):
            dominates[i] = sum(1 for b in beaten if _dominates(rivals[i], b, objectives))
    return {i: dominates[i] for i in sorted(dominates)}


def served(rows: Iterable[_Row]) -> dict[tuple[str, str], list[_Row]]:
    """The rows by what they serve (model, workload as JSON), in order of first appearance.

    A study compares designs (layouts and their variations) serving one model and
    workload: a design serving another model or context is not a rival.
    """
    out: dict[tuple[str, str], list[_Row]] = {}
    for r in rows:
        key = (str(r["model"]), json.dumps(r.get("workload"), sort_keys=True))
        out.setdefault(key, []).append(r)
    return out


# A design's variations in the order its name reads them (each the row's key for it).
_KNOBS = ("domain_gpus", "nic", *VARY_KEYS, "racks", "cluster_gpus")


def study_knobs(study: Mapping[str, Any]) -> list[str]:
    """The variations a study (its file, or its folder's ``study.json``) names, in order."""
    vary = study.get("vary") or {}
    return [k for k in _KNOBS if k in vary] + sorted(k for k in vary if k not in _KNOBS)


def varied(rows: Iterable[Mapping[str, Any]], knobs: Iterable[str] | None = None) -> list[str]:
    """Of `knobs` (the study's :func:`study_knobs`), those with more than one value in `rows`.

    Without them, of every variation (:data:`_KNOBS`) the rows hold, but not the racks
    where the rows give the cluster's GPUs (the racks follow from them and the domain).
    """
    given = list(knobs) if knobs is not None else None
    keys = given if given is not None else list(_KNOBS)
    seen: dict[str, set[str]] = {}
    for r in rows:
        for k in keys:
            if k in r:
                seen.setdefault(k, set()).add(json.dumps(r[k]))
    out = [k for k in keys if len(seen.get(k, ())) > 1]
    if given is None and "cluster_gpus" in seen:
        out = [k for k in out if k != "racks"]
    return out


def workload_label(w: Mapping[str, Any] | None) -> str:
    """A study's workload entry as a reader names it ("input 1024, output 256, kv fp8")."""
    return ", ".join(f"{k} {v}" for k, v in (w or {}).items())


def _dominates(a: dict[str, Any], b: dict[str, Any], objectives: list[str]) -> bool:
    va = [OBJECTIVES[o] * float(a[o]) for o in objectives]
    vb = [OBJECTIVES[o] * float(b[o]) for o in objectives]
    return all(x >= y for x, y in zip(va, vb, strict=True)) and va != vb


def _fingerprint(study: dict[str, Any]) -> str:
    text = json.dumps(study, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _execute(
    designs: list[dict[str, Any]], workers: int, dask: str | None
) -> Iterator[dict[str, Any]]:
    """Results as they complete (any order)."""
    runs = _runs(designs, workers)
    if dask:
        try:
            import importlib

            dd: Any = importlib.import_module("dask.distributed")  # untyped library
        except ImportError:
            msg = "--dask needs Dask distributed: pip install 'topo[dask]'"
            raise TopoError(msg) from None
        cluster: Any = None
        client: Any
        if dask == "local":
            cluster = dd.LocalCluster(
                n_workers=max(workers, 2),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = dd.Client(cluster)
        else:
            try:
                client = dd.Client(dask, timeout="20s")
            except (ValueError, TypeError, OSError) as e:  # TimeoutError is an OSError
                msg = f"--dask: cannot reach a scheduler at {dask[:200]!r} ({e})"
                raise TopoError(msg) from None
        try:
            futures = client.map(_assessed_run, runs, pure=False)
            for fut in dd.as_completed(futures):
                yield from fut.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers > 1:
        from concurrent.futures import as_completed as done

        from topo._workers import process_pool

        with process_pool(workers) as pool:
            futs = [pool.submit(_assessed_run, run) for run in runs]
            for f in done(futs):
                yield from f.result()
        return
    layouts: dict[str, Layout] = {}  # each layout file read once in this run
    for d in designs:
        yield _assessed(d, layouts)


def _runs(designs: list[dict[str, Any]], workers: int) -> list[list[dict[str, Any]]]:
    """The designs cut into runs for workers: each run designs that share work.

    Designs of one layout, model and workload share most of their work (bounds, decode
    steps, kernel fits: :func:`topo.design.assess` keeps them by value in its process), and
    neighbours in the study's order (one domain size, other NICs) share the most; so they
    are ordered by layout, model and workload, then as the study orders them, and cut into
    runs of consecutive designs. About :data:`_RUNS_PER_WORKER` runs a worker balance the
    load (a worker free takes the next); at most :data:`_RUN_MAX` designs a run keep what an
    interrupted study loses small. A design sent alone, as before, warmed every worker's
    caches with every model and shared little.
    """

    def shared(i: int) -> tuple[str, str, str]:
        d = designs[i]
        rest = {k: v for k, v in d.items() if k not in ("id", "vary", "layout", "model")}
        return str(d["layout"]), str(d["model"]), json.dumps(rest, sort_keys=True, default=str)

    order = sorted(range(len(designs)), key=lambda i: (shared(i), i))
    size = max(1, min(_RUN_MAX, -(-len(designs) // (_RUNS_PER_WORKER * max(workers, 1)))))
    return [[designs[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


# Runs a worker (:func:`_runs`), and the most designs in one.
_RUNS_PER_WORKER, _RUN_MAX = 4, 64


def _assessed_run(designs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`_assessed` of each design of a run, in one worker, each layout read once."""
    layouts: dict[str, Layout] = {}
    return [_assessed(d, layouts) for d in designs]


def _assessed(design: dict[str, Any], layouts: dict[str, Layout] | None = None) -> dict[str, Any]:
    """A design's row as the JSON line results.jsonl keeps (so a study can resume).

    `layouts`: layouts already read, by the name or path the design gives (filled here).
    """
    given = design["layout"]
    if layouts is not None and isinstance(given, str):
        if given not in layouts:
            layouts[given] = load_layout(given)
        design = {**design, "layout": layouts[given]}
    return assess(design).to_dict()


@dataclass(frozen=True, slots=True)
class StudySummary:
    """A study's outcome (:func:`run_study`), what ``results.json`` holds.

    `study`: its name; `designs`: each design's row in the study's order, as results.jsonl
    keeps it (the JSON of :meth:`topo.design.DesignRow.to_dict`: times [s], tokens/s, USD
    per million tokens, power [W]; rows of an earlier, resumed run are read back from the
    log); `objectives`: the objective names; `pareto`: ids of the Pareto front of each
    model and workload (:func:`served`: designs compete to serve the same demand);
    `dominates`: for each id on the front, how many feasible designs serving the same
    model and workload it beats; `feasible`: the count of feasible designs; `varies`: the
    variations the study file names, in the order designs are named by
    (:func:`study_knobs`; not in ``results.json``).
    """

    study: str
    designs: tuple[Mapping[str, Any], ...]
    objectives: tuple[str, ...]
    pareto: tuple[str, ...]
    dominates: Mapping[str, int]
    feasible: int
    varies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``topo study --json`` prints (and results.json holds, keys sorted)."""
        return {
            "study": self.study,
            "designs": [dict(r) for r in self.designs],
            "objectives": list(self.objectives),
            "pareto": list(self.pareto),
            "dominates": dict(self.dominates),
            "feasible": self.feasible,
        }


def run_study_file(
    path: str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StudySummary:
    """``topo study``: every design of the study file `path`, resumable in the folder `out`."""
    spec = load_study(str(path))
    if workers < 1:
        msg = f"--workers must be >= 1, got {workers}"
        raise TopoError(msg)
    return run_study(spec, Path(out), workers=workers, dask=dask, progress=progress)


def run_study(
    study: dict[str, Any],
    out: Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StudySummary:
    """Assess every design not yet in `out`/results.jsonl; write the tables; the summary.

    `progress(done, total)` is called after each design.
    """
    try:
        if out.exists() and not out.is_dir():
            msg = f"{out}: exists and is not a folder; -o names the results folder"
            raise TopoError(msg)
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a name too long, no permission
        msg = f"{str(out)[:200]}: cannot write the results folder: {e.strerror or e}"
        raise TopoError(msg) from None
    fp = _fingerprint(study)
    meta = out / "study.json"
    if meta.is_file():
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            old = None
        if not isinstance(old, dict) or old.get("fingerprint") != fp:
            msg = f"{out}: holds results of another study; use another folder"
            raise TopoError(msg)
    else:
        _write(meta, json.dumps({"fingerprint": fp, "study": study}, indent=1, default=str))
    designs = study_designs(study)
    log = out / "results.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run
            if isinstance(r, dict) and isinstance(r.get("id"), str):
                done[r["id"]] = r
    todo = [d for d in designs if d["id"] not in done]
    with log.open("a", encoding="utf-8") as f:
        for k, r in enumerate(_execute(todo, workers, dask), 1):
            line = json.dumps(r, sort_keys=True)
            f.write(line + "\n")
            f.flush()
            done[r["id"]] = json.loads(line)  # as a resumed run reads it back
            if progress is not None:
                progress(k, len(todo))
    rows = [done[d["id"]] for d in designs]
    objectives = study["objectives"]
    dominates = fronts(rows, objectives)
    summary = StudySummary(
        study=study["name"],
        designs=tuple(rows),
        objectives=tuple(objectives),
        pareto=tuple(dominates),
        dominates=dominates,
        feasible=sum(1 for r in rows if r["feasible"]),
        varies=tuple(study_knobs(study)),
    )
    _write(out / "results.json", json.dumps(summary.to_dict(), indent=1, sort_keys=True) + "\n")
    _write(out / "results.csv", _csv(rows, set(dominates), study_knobs(study)))
    return summary


def _write(path: Path, text: str) -> None:
    """Write `text` through a temporary file and a rename: never a half-written file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:  # a read-only folder
        msg = f"{path}: cannot write: {e.strerror or e}"
        raise TopoError(msg) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)  # read the process's umask (mkstemp makes 0600 files)
        os.umask(umask)
        Path(tmp).chmod(0o666 & ~umask)
        Path(tmp).replace(path)
    except OSError as e:  # a full disk
        Path(tmp).unlink(missing_ok=True)
        msg = f"{path}: cannot write: {e.strerror or e}"
        raise TopoError(msg) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_CSV_COLUMNS = (
    "id",
    "layout",
    "model",
    "domain_gpus",
    "nic_gbps",
    "cable",
    "gpus",
    "racks",
    "feasible",
    "physical_ok",
    "binding_limit",
    "binding_margin",
    "plan",
    "batch",
    "bound",
    "time_per_output_token_s",
    "time_to_first_token_s",
    "tokens_per_s_per_gpu",
    "tokens_per_s_per_kw",
    "usd_per_million_gpu_hour",
    "usd_per_million_tco",
    "tco_usd_per_gpu_hour",
    "reasons",
)


def _csv(
    rows: list[dict[str, Any]], front: set[str] | None = None, knobs: list[str] | None = None
) -> str:
    """One line a design: the fixed columns, and the study's other variations.

    Those (of `knobs`, the study's; default: :func:`varied`'s guess) after ``cable``; each
    row's workload after ``model`` (where a study has several); with the ids of the Pareto
    fronts, ``pareto`` (true or false) after ``feasible``.
    """
    at = _CSV_COLUMNS.index("cable") + 1
    extra = [k for k in varied(rows, knobs) if k not in _CSV_COLUMNS and k != "nic"]
    columns = [*_CSV_COLUMNS[:at], *extra, *_CSV_COLUMNS[at:]]
    if front is not None:
        columns.insert(columns.index("feasible") + 1, "pareto")
    if any("workload" in r for r in rows):
        columns.insert(columns.index("model") + 1, "workload")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if c == "plan" and isinstance(v, dict):
                v = "x".join(f"{k}{v[k]}" for k in ("tp", "ep", "pp", "dp") if k in v)
            elif c == "reasons":
                v = "; ".join(v or [])
            elif c == "workload":
                v = workload_label(v)
            elif c == "pareto":
                v = r["id"] in (front or set())
            cells.append("" if v is None else v)
        w.writerow(cells)
    return buf.getvalue()


def format_study(summary: dict[str, Any], knobs: Iterable[str] | None = None) -> str:
    """The summary for a terminal: counts, then the Pareto front with what each dominates.

    One front for each model and workload, where a study has several. Designs are named
    by the `knobs` that vary (the study's :func:`study_knobs`; default: :func:`varied`'s
    guess from the rows). Designs on a front with the same objective values (they differ
    only in variations that change neither) share a line, with what they differ in.
    """
    rows = {r["id"]: r for r in summary["designs"]}
    objs = summary["objectives"]
    groups = served(rows.values())
    knobs = [k for k in varied(rows.values(), knobs) if k not in ("domain_gpus", "nic")]
    front = set(summary["pareto"])
    head = f"Pareto front on {', '.join(objs)}"
    if len(groups) > 1:
        head = f"Pareto fronts on {', '.join(objs)}, one for each model and workload"
    lines = [
        f"study {summary['study']}: {len(rows)} designs, {summary['feasible']} feasible; "
        f"{head}: {len(front)}",
    ]
    for (model, _), group in groups.items():
        ids = [r["id"] for r in group if r["id"] in front]
        pad = "  "
        if len(groups) > 1:
            wl = workload_label(group[0].get("workload"))
            lines.append(f"  {model}" + (f" ({wl})" if wl else "") + f": {len(ids)}")
            pad = "    "
        for tie in _ties([rows[i] for i in ids], objs):
            r = tie[0]
            vals = ", ".join(f"{o} {r[o]:.4g}" for o in objs)
            differ = _differ(tie, ["layout", "domain_gpus", "nic", *knobs])
            named = "".join(f" {k} {r[k]}" for k in knobs if k in r and k not in differ)
            lines.append(
                f"{pad}{r['id']} {r['layout']} domain {r['domain_gpus']} nic {r['nic_gbps']:g} "
                f"Gb/s{named} {r['model']}: {vals}; dominates {summary['dominates'][r['id']]}"
            )
            if len(tie) > 1:
                what = " and ".join(
                    f"{k} ({', '.join(str(v) for v in dict.fromkeys(t.get(k) for t in tie))})"
                    for k in differ
                )
                others = ", ".join(t["id"] for t in tie[1:])
                lines.append(
                    f"{pad}  and {len(tie) - 1} more at the same values, "
                    f"differing in {what}: {others}"
                )
    bad = [r for r in rows.values() if not r["feasible"]]
    if bad:
        lines.append(f"infeasible: {len(bad)}, e.g. {bad[0]['id']}: {bad[0]['reasons'][0]}")
    return "\n".join(lines)


def _ties(rows: list[dict[str, Any]], objectives: list[str]) -> list[list[dict[str, Any]]]:
    """`rows` in groups of equal objective values, in order of each group's first row."""
    out: dict[tuple[float, ...], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(tuple(float(r[o]) for o in objectives), []).append(r)
    return list(out.values())


def _differ(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    """The `keys` whose values differ between `rows`."""
    return [k for k in keys if len({json.dumps(r.get(k)) for r in rows}) > 1]
