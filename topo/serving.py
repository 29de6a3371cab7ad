"""Serving simulation: train-schedule and continuous batching of Poisson arrivals.

``train``: decode steps depart on a fixed interval, the step time at the batch that fills
HBM (it tends to HBM capacity / bandwidth: ~24 ms on H100). A request boards the next
departure with a free seat, prefills, then takes one token per departure; its seat is
freed after its last token. With equal lengths every request holds its seat for the same
``D`` departures, so FIFO boarding is exact with the recursion
``b_i = max(ceil(a_i / tau), b_{i-1}, b_{i-seats} + D)`` (seat i is the one request
i - seats frees). With pipeline parallelism, ``trains`` micro-batches are in flight and a
train departs every stage time (time per token / trains): a request rides its own train,
one token per time per token; the recursion runs over all departures with the seats of
every train (exact while seats are free; at full load an approximation, as a freed seat may
belong to another train than the next departure).

``continuous``: a step starts as soon as the last ends, its length the decode step time at
the current batch; new sequences join at each step boundary.

Reference: ``reference/seed_formulas.md``, claim 8 (mean wait tau / 2 at light load).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from topo.errors import TopoError

__all__ = ["ServeSetup", "ServeStats", "Spread", "simulate"]

POLICIES = ("train", "continuous")


@dataclass(frozen=True, slots=True)
class ServeSetup:
    """What the simulation needs from the roofline engine (times in s)."""

    seats: int  # the batch that fits in HBM (per micro-batch)
    interval_s: float  # time between departures at `seats`: time per token / trains
    step_s: tuple[float, ...]  # decode step time at batch 1..seats (continuous batching)
    prefill_s: float  # prefill of one prompt
    gpus: int
    trains: int = 1  # micro-batches in flight (pipeline stages)


@dataclass(frozen=True, slots=True)
class Spread:
    """Mean, median and 99th percentile of a time over the requests [s]."""

    mean: float
    p50: float
    p99: float


@dataclass(frozen=True, slots=True)
class ServeStats:
    """What a serving run measured: latencies [s], throughput, seat use.

    ``to_dict()`` is the simulation's part of ``topo serve --json``.
    """

    policy: str
    requests: int
    rate_per_s: float
    seed: int
    seats: int
    interval_s: float
    prefill_s: float
    wait_s: Spread
    ttft_s: Spread
    e2e_s: Spread
    time_per_output_token_s: float
    seat_utilisation: float
    tokens_per_s_per_gpu: float
    analytic_light_load_wait_s: float | None
    ttft_samples_s: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the fields in order, spreads as mappings)."""
        d = asdict(self)
        d["ttft_samples_s"] = list(self.ttft_samples_s)
        return d


def _stats(x: np.ndarray) -> Spread:
    if not len(x):
        return Spread(0.0, 0.0, 0.0)
    return Spread(
        mean=float(np.mean(x)),
        p50=float(np.percentile(x, 50)),
        p99=float(np.percentile(x, 99)),
    )


def _train(arrivals: np.ndarray, setup: ServeSetup, output: int) -> dict[str, Any]:
    tau = setup.interval_s  # between departures
    trains = max(1, setup.trains)
    tpot = tau * trains  # a request's own train comes round once per token
    # Departures of its own train a request needs: its first token after prefill, then
    # one a step; on the timetable of all trains that is `trains` times as many.
    own = max(1, math.ceil((setup.prefill_s + max(output - 1, 0) * tpot) / tpot - 1e-12))
    hold = own * trains
    first = np.ceil(arrivals / tau - 1e-12).astype(np.int64)
    board = first.tolist()
    seats = setup.seats * trains
    prev = -1
    for i in range(len(board)):
        b = board[i]
        if b < prev:
            b = prev
        if i >= seats:
            free = board[i - seats] + hold  # the seat request i - seats frees
            if b < free:
                b = free
        board[i] = b
        prev = b
    boarded = np.asarray(board, dtype=np.int64) * tau
    wait = boarded - arrivals
    ttft = wait + setup.prefill_s
    end = ttft + max(output - 1, 0) * tpot
    makespan = float(boarded[-1] + hold * tau) if len(boarded) else 0.0
    busy = len(arrivals) * own  # seat-departures used
    departures = max(1, math.ceil(makespan / tau))
    return {
        "wait": wait,
        "ttft": ttft,
        "e2e": end,
        "tpot": tpot,
        "interval": tau,
        "utilisation": busy / (departures * setup.seats),
        "makespan": makespan,
    }


def _continuous(arrivals: np.ndarray, setup: ServeSetup, output: int) -> dict[str, Any]:
    n = len(arrivals)
    steps = np.asarray(setup.step_s)
    wait = np.zeros(n)
    end = np.zeros(n)
    t = 0.0
    nxt = 0  # next request to admit
    active: deque[tuple[int, int]] = deque()  # (steps left, request)
    step_sum = 0.0
    step_count = 0
    busy_seats = 0.0
    while nxt < n or active:
        if not active and nxt < n and arrivals[nxt] > t:
            t = float(arrivals[nxt])
        # Admit everyone who has arrived, up to the free seats.
        room = setup.seats - len(active)
        if room > 0 and nxt < n:
            last = int(np.searchsorted(arrivals, t, side="right"))
            take = min(room, last - nxt)
            for i in range(nxt, nxt + take):
                wait[i] = t - arrivals[i]
                active.append((max(output - 1, 0), i))
            nxt += take
        if not active:
            continue
        # Joiners prefill in this step: the step lasts the decode time at this batch,
        # or the prefill if that is longer.
        dt = float(steps[min(len(active), len(steps)) - 1])
        joined = any(left == max(output - 1, 0) for left, _ in active)
        if joined:
            dt = max(dt, setup.prefill_s)
        t += dt
        step_sum += dt
        step_count += 1
        busy_seats += len(active) * dt
        still: deque[tuple[int, int]] = deque()
        for left, i in active:
            if left <= 0:
                end[i] = t - arrivals[i]
            else:
                still.append((left - 1, i))
        active = still
    ttft = wait + setup.prefill_s
    mean_step = step_sum / step_count if step_count else 0.0
    return {
        "wait": wait,
        "ttft": ttft,
        "e2e": end,
        "tpot": mean_step,
        "interval": mean_step,
        "utilisation": busy_seats / (setup.seats * t) if t > 0 else 0.0,
        "makespan": t,
    }


def simulate(
    setup: ServeSetup,
    *,
    rate_per_s: float,
    output_tokens: int,
    requests: int = 10_000,
    policy: str = "train",
    seed: int = 0,
) -> ServeStats:
    """Poisson arrivals at `rate_per_s` through the policy; latency and use statistics.

    Raises
    ------
    TopoError
        For a rate, count or policy out of range.
    """
    if policy not in POLICIES:
        msg = f"--policy must be one of {', '.join(POLICIES)}, got {policy!r}"
        raise TopoError(msg)
    if not (1e-9 <= rate_per_s <= 1e9):
        msg = f"--rate must be from 1e-9 to 1e9 requests per second, got {rate_per_s}"
        raise TopoError(msg)
    if not 0 <= seed < 2**63:
        msg = f"--seed must be a whole number from 0 to 2^63 - 1, got {seed}"
        raise TopoError(msg)
    if not 1 <= requests <= 10_000_000:
        msg = f"--requests must be from 1 to 10,000,000, got {requests}"
        raise TopoError(msg)
    if setup.seats < 1:
        msg = "no sequence fits in HBM next to the weights: no seats to serve from"
        raise TopoError(msg)
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate_per_s, size=requests))
    run = _train if policy == "train" else _continuous
    r = run(arrivals, setup, output_tokens)
    tokens = requests * output_tokens
    return ServeStats(
        policy=policy,
        requests=requests,
        rate_per_s=rate_per_s,
        seed=seed,
        seats=setup.seats,
        interval_s=r["interval"],
        prefill_s=setup.prefill_s,
        wait_s=_stats(r["wait"]),
        ttft_s=_stats(r["ttft"]),
        e2e_s=_stats(r["e2e"]),
        time_per_output_token_s=r["tpot"],
        seat_utilisation=r["utilisation"],
        tokens_per_s_per_gpu=tokens / r["makespan"] / setup.gpus if r["makespan"] else 0.0,
        analytic_light_load_wait_s=setup.interval_s / 2 if policy == "train" else None,
        ttft_samples_s=tuple(float(x) for x in r["ttft"][:: max(1, requests // 2000)]),
    )
