"""Hidden true probabilities and the oracle that reports them (pure: no Django, no I/O).

Every market follows the Gaussian score dynamics of Moallemi & Robinson's pm-AMM paper: a
score Z_t (a Brownian motion, here with an optional drift and news jumps) and an event that
resolves YES iff Z_T > 0 at the event's time T, so that the probability at time t is

    p_t = Φ(Z_t / (σ·√(T − t)))

which moves faster as T nears and ends at 0 or 1. The scenario names a T (far beyond the
window for a quiet market, the window's end for "resolution"), a drift and jumps. Units:
σ = 1 per √(simulated second); a "z" below is one standard deviation of Z_T given Z_t
measured at the start, i.e. √T.

The same seed gives the same paths: every random draw comes from a `random.Random` seeded
with a string naming the run's seed, the market and the purpose (string seeds hash the
same in every process, unlike `hash()`).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

N01 = NormalDist()
P_MIN, P_MAX = 1e-4, 1 - 1e-4  # the truth stays strictly inside (0, 1) until resolution


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    event_horizon: float  # T as a multiple of the simulated window
    drift_z: float = 0.0  # total drift over the window, in z (the sign is drawn)
    jumps: tuple[int, int] = (0, 0)  # number of news jumps in the window (min, max)
    jump_z: tuple[float, float] = (0.0, 0.0)  # size of a jump in z of the remaining time (sign drawn)
    p0: tuple[float, float] = (0.25, 0.75)  # the starting probability is drawn from this range


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("calm", "far from resolution, slow diffusion (a few cents over the window)", event_horizon=100.0),
    Scenario("trending", "far from resolution, a steady drift of ~20 cents over the window", event_horizon=100.0,
             drift_z=0.6),
    Scenario("news", "calm, with 1-3 news jumps of ~10-25 cents at random times", event_horizon=100.0,
             jumps=(1, 3), jump_z=(0.3, 0.7)),
    Scenario("volatile", "closer to resolution: ~3x the calm diffusion", event_horizon=8.0),
    Scenario("resolution", "approach to resolution: the event resolves at the window's end, the probability "
             "ends at 0 or 1 and moves ever faster", event_horizon=1.0, p0=(0.3, 0.7)),
)}
SCENARIO_ORDER = ("news", "resolution", "trending", "calm", "volatile")  # --markets N takes the first N


def rng_for(seed: int, market: int, purpose: str) -> random.Random:
    return random.Random(f"amm-sim:{seed}:{market}:{purpose}")


@dataclass(frozen=True)
class TruePath:
    """The truth on a grid of `dt` simulated seconds: probs[k] is p at k·dt (k = 0..steps)."""

    scenario: str
    dt: float
    horizon: float  # the window, simulated seconds
    event_time: float  # T
    probs: tuple[float, ...]
    jump_times: tuple[float, ...]
    outcome: str  # YES/NO: the event's resolution (drawn from the end of the path if T is later)

    def at(self, t: float) -> float:
        """Probability (0..1) at simulated time t (the grid value at or before t)."""
        k = int(math.floor(t / self.dt + 1e-9))
        return self.probs[min(max(k, 0), len(self.probs) - 1)]

    def cents(self, t: float) -> float:
        return 100.0 * self.at(t)

    @property
    def final_cents(self) -> float:
        return 100.0 * self.probs[-1]


def true_path(*, scenario: str, seed: int, market: int, horizon: float, dt: float = 0.2) -> TruePath:
    """One market's truth over `horizon` simulated seconds (module docstring)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIO_ORDER)})")
    if horizon <= 0 or dt <= 0:
        raise ValueError("horizon and dt must be positive")
    spec = SCENARIOS[scenario]
    rng = rng_for(seed, market, f"path:{scenario}")
    T = spec.event_horizon * horizon
    p0 = rng.uniform(*spec.p0)
    z = N01.inv_cdf(p0) * math.sqrt(T)
    drift = rng.choice((-1, 1)) * spec.drift_z * math.sqrt(T) / horizon  # per second
    n_jumps = rng.randint(*spec.jumps) if spec.jumps[1] else 0
    jumps = sorted((rng.uniform(0.1, 0.9) * horizon, rng.choice((-1, 1)) * rng.uniform(*spec.jump_z))
                   for _ in range(n_jumps))
    steps = int(round(horizon / dt))
    probs = [p0]
    pending = list(jumps)
    for k in range(1, steps + 1):
        t = k * dt
        z += drift * dt + rng.gauss(0.0, math.sqrt(dt))
        while pending and pending[0][0] <= t:
            _, size = pending.pop(0)
            z += size * math.sqrt(max(T - t, dt))
        remaining = T - t
        if remaining <= 1e-9:
            probs.append(1.0 if z > 0 else 0.0)
        else:
            probs.append(min(P_MAX, max(P_MIN, N01.cdf(z / math.sqrt(remaining)))))
    end = probs[-1]
    if T - steps * dt > 1e-9:  # the event lies beyond the window: its outcome given the path so far
        outcome = "YES" if rng_for(seed, market, "outcome").random() < end else "NO"
    else:
        outcome = "YES" if end >= 0.5 else "NO"
    return TruePath(scenario=scenario, dt=dt, horizon=horizon, event_time=T, probs=tuple(probs),
                    jump_times=tuple(t for t, _ in jumps), outcome=outcome)


@dataclass(frozen=True)
class OracleSpec:
    interval: float = 1.0  # simulated seconds between published values
    delay: float = 2.0  # the value published at τ is the truth at τ − delay
    noise_cents: float = 1.0  # Gaussian noise added to each published value (std, cents)


@dataclass(frozen=True)
class OraclePath:
    """Published values: values[j] (cents) published at j·interval, the truth at
    max(0, j·interval − delay) plus noise."""

    spec: OracleSpec
    values: tuple[float, ...]

    def index(self, t: float) -> int:
        return min(max(int(math.floor(t / self.spec.interval + 1e-9)), 0), len(self.values) - 1)

    def cents(self, t: float) -> float:
        return self.values[self.index(t)]

    def observed_at(self, t: float) -> float:
        """Simulated time of the truth the value served at t reports."""
        return max(0.0, self.index(t) * self.spec.interval - self.spec.delay)


def oracle_path(*, truth: TruePath, spec: OracleSpec, seed: int, market: int) -> OraclePath:
    if spec.interval <= 0 or spec.delay < 0 or spec.noise_cents < 0:
        raise ValueError("oracle interval must be positive, delay and noise non-negative")
    rng = rng_for(seed, market, "oracle")
    count = int(math.floor(truth.horizon / spec.interval + 1e-9)) + 1
    values = []
    for j in range(count):
        observed = max(0.0, j * spec.interval - spec.delay)
        value = truth.cents(observed) + (rng.gauss(0.0, spec.noise_cents) if spec.noise_cents else 0.0)
        values.append(round(min(99.5, max(0.5, value)), 4))
    return OraclePath(spec=spec, values=tuple(values))
