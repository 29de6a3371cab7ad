"""Latency under load: time to first token and time per output token as requests rise.

One plan of one scenario served as ``topo serve`` serves it (the same set-up, built by
:func:`topo.api.serve_scenario`; the same simulator, :func:`topo.serving.simulate`, with
the same seed at every rate), at request rates from light load to past saturation. The
top panel draws the median (p50) and 99th-percentile (p99) time to first token, with the
prefill of one prompt beneath them; the bottom panel the time per output token. Two rates
are marked: the knee, the first rate drawn at which p99 TTFT is more than 1.5 times its
light-load value (queues have formed), and the service's max throughput, the requests per
second it completes when they all arrive at once (the simulator at 10^9 requests/s).
Past the max throughput queues grow without end, so TTFT there depends on how many
requests are simulated (the subtitle says how many).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from topo.errors import TopoError
from topo.place import Plan
from topo.plot._style import REF_COLOR, SERIES_COLORS, figure, scenario_subtitle
from topo.serving import ServeSetup, ServeStats, simulate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from topo.scenario import Scenario

__all__ = ["KNEE_FACTOR", "LOAD_FRACTIONS", "LoadCurve", "load_curve", "load_figure"]

KNEE_FACTOR = 1.5
"""The knee: the first rate at which p99 TTFT exceeds this many times its light-load value."""

LOAD_FRACTIONS = (
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2,
)  # fmt: skip
"""Default rates as fractions of the max throughput [1]: light load to 1.2x saturation."""

OVERLOAD_RATE = 1e9
"""Arrivals per second at which the max throughput is measured [1/s] (all at once)."""

_P50, _P99, _TPOT = SERIES_COLORS[0], SERIES_COLORS[1], SERIES_COLORS[3]
_KNEE, _SAT = SERIES_COLORS[4], REF_COLOR


@dataclass(frozen=True, slots=True)
class LoadCurve:
    """One plan served at rising request rates: what :func:`load_figure` draws.

    Attributes
    ----------
    plan
        The plan served.
    policy
        ``"train"`` or ``"continuous"`` (:func:`topo.serving.simulate`).
    setup
        The serving set-up ``topo serve`` builds for the plan (seats, step times [s]).
    requests
        Requests simulated at each rate [requests].
    seed
        The arrivals' random seed (the same at every rate).
    rates_per_s
        Request rates simulated, rising [1/s].
    stats
        The simulator's result at each rate (TTFT spreads [s], TPOT [s], ...).
    max_throughput_per_s
        Requests completed per second when all arrive at once [1/s].
    knee_per_s
        The first rate whose p99 TTFT exceeds :data:`KNEE_FACTOR` times the p99 TTFT at
        the lowest rate [1/s]; None if none does.
    """

    plan: Plan
    policy: str
    setup: ServeSetup
    requests: int
    seed: int
    rates_per_s: tuple[float, ...]
    stats: tuple[ServeStats, ...]
    max_throughput_per_s: float
    knee_per_s: float | None


def _default_requests(setup: ServeSetup, policy: str) -> int:
    """Enough requests to fill every seat a few times (a queue needs full seats).

    Whole multiples of the seats, so a burst's last round is full. The continuous
    simulation steps in Python, so it gets fewer.
    """
    seats = setup.seats * (max(1, setup.trains) if policy == "train" else 1)
    cap = 400_000 if policy == "train" else 20_000
    rounds = max(4, math.ceil(2_000 / seats))
    return max(1, min(rounds, max(1, cap // seats)) * seats)


def load_curve(
    s: Scenario,
    plan: Plan,
    rates: Sequence[float] | None = None,
    *,
    policy: str = "train",
    requests: int | None = None,
    seed: int = 0,
) -> LoadCurve:
    """`plan` of `s` simulated at each rate, its max throughput and its knee.

    Parameters
    ----------
    s
        The scenario (layout, model, workload, placement strategy).
    plan
        The plan served (e.g. :func:`topo.scenario.serving_plan`'s).
    rates
        Request arrivals per second [1/s]; None: :data:`LOAD_FRACTIONS` of the max
        throughput.
    policy
        ``"train"`` (train schedule, ``topo serve``'s default) or ``"continuous"``.
    requests
        Requests simulated per rate [requests]; None: a few times the seats.
    seed
        Random seed of the arrivals.
    """
    from topo.api import serve_scenario
    from topo.scenario import Degrees

    degrees = Degrees(tp=plan.tp, ep=plan.ep, pp=plan.pp, dp=plan.dp)
    # Only the set-up is wanted here: one request at any rate builds it as topo serve does.
    setup = serve_scenario(s, degrees, rate=1.0, policy=policy, requests=1, seed=seed).setup
    n = requests if requests is not None else _default_requests(setup, policy)
    output = s.workload.output_tokens

    def run(rate: float) -> ServeStats:
        return simulate(
            setup, rate_per_s=rate, output_tokens=output, requests=n, policy=policy, seed=seed
        )

    burst = run(OVERLOAD_RATE)
    most = burst.tokens_per_s_per_gpu * setup.gpus / output
    if rates is None:
        chosen = [most * f for f in LOAD_FRACTIONS]
    else:
        chosen = sorted({float(r) for r in rates})
        if not chosen or chosen[0] <= 0:
            msg = f"rates must be > 0 requests per second, got {list(rates)!r}"
            raise TopoError(msg)
    stats = tuple(run(r) for r in chosen)
    light = stats[0].ttft_s.p99
    knee = next(
        (r for r, st in zip(chosen, stats, strict=True) if st.ttft_s.p99 > KNEE_FACTOR * light),
        None,
    )
    return LoadCurve(
        plan=plan,
        policy=policy,
        setup=setup,
        requests=n,
        seed=seed,
        rates_per_s=tuple(chosen),
        stats=stats,
        max_throughput_per_s=most,
        knee_per_s=knee,
    )


def load_figure(
    s: Scenario,
    plan: Plan,
    rates: Sequence[float] | None = None,
    *,
    policy: str = "train",
    requests: int | None = None,
    seed: int = 0,
) -> Figure:
    """TTFT (p50, p99) and TPOT against the request rate, knee and max throughput marked.

    Parameters are :func:`load_curve`'s: the scenario, the plan served, the rates [1/s]
    (None: light load to 1.2x the max throughput), the policy, the requests per rate
    (None: a few times the seats) and the seed.
    """
    c = load_curve(s, plan, rates, policy=policy, requests=requests, seed=seed)
    x = list(c.rates_per_s)
    fig: Figure = figure(10, 7.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
    p50 = [st.ttft_s.p50 * 1e3 for st in c.stats]
    p99 = [st.ttft_s.p99 * 1e3 for st in c.stats]
    top.plot(x, p50, "o-", color=_P50, label="TTFT p50", markersize=5, linewidth=1.8)
    top.plot(x, p99, "s--", color=_P99, label="TTFT p99", markersize=5, linewidth=1.8)
    top.axhline(
        c.setup.prefill_s * 1e3,
        color="#888888",
        linestyle=":",
        linewidth=1.3,
        label=f"prefill of one prompt: {c.setup.prefill_s * 1e3:,.0f} ms",
    )
    _log_ms(top, min([*p50, c.setup.prefill_s * 1e3]), max(p99))
    top.set_ylabel("time to first token [ms]", fontsize=10)
    tpot = [st.time_per_output_token_s * 1e3 for st in c.stats]
    what = (
        "TPOT, p50 = p99 (train schedule: every token one departure apart)"
        if c.policy == "train"
        else "TPOT, mean decode step (continuous batching)"
    )
    bottom.plot(x, tpot, "o-", color=_TPOT, label=what, markersize=5, linewidth=1.8)
    bottom.set_ylim(0, max(tpot) * 1.6)
    bottom.set_ylabel("time per output token [ms]", fontsize=10)
    bottom.set_xlabel("request rate [requests/s]", fontsize=10)
    bottom.set_xlim(0, max(x[-1], c.max_throughput_per_s) * 1.05)
    top.tick_params(labelbottom=True)  # both panels read on their own
    from topo.plot.interactivity import ticks_in_view

    for ax, which in ((top, "x"), (bottom, "x"), (bottom, "y")):
        ticks_in_view(ax, which)
    for ax in (top, bottom):
        _marks(ax, c, legend=ax is top)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=9)
    top.legend(loc="upper left", fontsize=9, framealpha=0.95)
    bottom.legend(loc="lower right", fontsize=9, framealpha=0.95)
    fig.suptitle(
        f"{s.model.name} on {s.layout.name}: latency as the request rate rises",
        fontsize=12,
        weight="bold",
    )
    top.set_title(
        scenario_subtitle(plan, s.workload)
        + f"\n{c.policy} schedule, {c.setup.seats:,} seats per micro-batch, "
        f"{c.requests:,} Poisson arrivals per rate, seed {c.seed}",
        fontsize=9,
        loc="left",
    )
    return fig


def _marks(ax: Any, c: LoadCurve, *, legend: bool) -> None:
    """The max throughput and the knee (drawn over it) as vertical lines, named once."""
    ax.axvline(
        c.max_throughput_per_s,
        color=_SAT,
        linestyle="--",
        linewidth=1.3,
        label=(f"max throughput: {_rate(c.max_throughput_per_s)} requests/s (all arriving at once)")
        if legend
        else None,
    )
    if c.knee_per_s is not None:
        ax.axvline(
            c.knee_per_s,
            color=_KNEE,
            linestyle="-.",
            linewidth=1.5,
            label=(
                f"knee: {_rate(c.knee_per_s)} requests/s "
                f"(p99 TTFT > {KNEE_FACTOR:g}x its light-load value)"
            )
            if legend
            else None,
        )


def _log_ms(ax: Any, lo: float, hi: float) -> None:
    """A log axis [ms] labelled at 1-2-5 (ticks in view), or linear from 0 under 4x."""
    from topo.plot.interactivity import ladder_axis, ticks_in_view

    if hi / lo >= 4:
        ladder_axis(ax, "y", lo, hi)
    else:
        ax.set_ylim(0, hi * 1.6)
        ticks_in_view(ax, "y")


def _rate(v: float) -> str:
    """A rate to three significant figures, without exponents: 0.0512, 7.31, 142, 3,045."""
    if v >= 100:
        return f"{v:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(v))) if v > 0 else 0
    return f"{v:.{digits}f}"
