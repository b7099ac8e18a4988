"""A binary's price risk over the inventory holding horizon (SPEC §6 "a binary's price risk
grows, not vanishes, as its end nears"; issue 13).

Model: the Gaussian score dynamics of Moallemi & Robinson's pm-AMM (Paradigm, 2024). The
event resolves YES iff a Brownian score ends above 0 at T, so the probability is
p_t = Φ(u_t) with the probit u = Φ⁻¹(p) and

    probability volatility  100·φ(Φ⁻¹(p))·σ/√(T − t)   cents (their dynamic pm-AMM's rate),

growing without bound as T nears while the price itself stays in [0, 100]. Over a horizon
that reveals a fraction f of the remaining information (probit variance v = f/(1 − f)), the
price variance is exact and bounded by the settlement jump:

    V(p, f) = 100² · (1/2π) · ∫₀^asin(f) exp(−u²/(1 + sin θ)) dθ      cents² per share

(the bivariate-normal identity Var Φ = Φ₂(u, u; f) − Φ(u)², written so the integrand is
smooth): V ≈ f·(100·φ(u))² = the local σ² while f is small, and V → 100²·p(1 − p), the
settlement jump, as f → 1.

The strategy's probit variance rate per minute is the larger of
  - the realized rate: (σ_local / (100·φ(u)))², with σ_local the realized σ (cents per √min,
    volatility.py) at the current price, and
  - the expiry rate: `expiry_risk_weight` / (minutes to trading end), the pm-AMM's 1/(T − t)
    (T is the trading end: inventory held past it can only settle),
and the horizon is RISK_HORIZON_MIN = 1 minute (the seed's σ²·τ priced one minute of σ per
√minute; far from the end, V is the seed's σ² at τ = 1). So v = rate·1 min, f = v/(1 + v):
with an end date, f → 1 and V → p(100 − p)·100 as trading end nears. V never decreases as the
end nears (the rate only grows), which is what makes the skew grow and size shrink.

Pure and cheap: one inverse normal CDF and a 5-node Gauss–Legendre rule per call.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

PAIR = 100.0
MS_PER_HOUR = 3_600_000
RISK_HORIZON_MIN = 1.0  # the holding horizon the variance is priced over, in minutes
_N01 = NormalDist()
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_EPS = 1e-9
MIN_MINUTES = 1e-9  # the expiry rate's time to the end is floored here: V within 1e-4 of the jump, finite


def _gauss_legendre(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1] (Newton on P_n)."""
    nodes, weights = [], []
    for i in range(1, n + 1):
        x = math.cos(math.pi * (i - 0.25) / (n + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            step = p1 / dp
            x -= step
            if abs(step) < 1e-15:
                break
        nodes.append(x)
        weights.append(2.0 / ((1.0 - x * x) * dp * dp))
    return tuple(nodes), tuple(weights)


_GL_NODES, _GL_WEIGHTS = _gauss_legendre(5)  # relative error < 2e-6 for |u| ≤ 2.7, any f


def probit(x: float) -> float:
    """Φ⁻¹(x) for a probability x, clipped into (0, 1)."""
    x = _EPS if x < _EPS else 1.0 - _EPS if x > 1.0 - _EPS else x
    return _N01.inv_cdf(x)


def normal_pdf(u: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * u * u)


def settlement_variance(x: float) -> float:
    """Variance of the 0/100 payoff of one share at probability x: 100²·x(1 − x), cents²."""
    return PAIR * PAIR * x * (1.0 - x)


def revealed_variance(u: float, f: float) -> float:
    """V(p, f) of the module docstring for probit u = Φ⁻¹(p): the price variance (cents²) over a
    horizon that reveals the fraction f ∈ [0, 1] of the remaining information."""
    if f <= 0.0:
        return 0.0
    a = math.asin(1.0 if f >= 1.0 else f)
    half = 0.5 * a
    u2 = u * u
    total = 0.0
    for node, weight in zip(_GL_NODES, _GL_WEIGHTS):
        theta = half * (node + 1.0)
        total += weight * math.exp(-u2 / (1.0 + math.sin(theta)))
    return PAIR * PAIR * half * total / (2.0 * math.pi)


def local_sigma_scale(x: float) -> float:
    """4·x(1 − x): the p(1 − p) shape that turns σ quoted "in cents at 50" into cents at x
    (the log-odds volatility's price-space image; 1 at 50, 0.078 at 2 or 98)."""
    return 4.0 * x * (1.0 - x)


def expected_sigma_cents(*, fair: float, sigma50: float, hours: float | None, expiry_weight: float) -> float:
    """The larger of the realized σ at `fair` and the pm-AMM's expiry σ, cents per √minute: how
    fast the price may move right now (pricing.py's oracle jump guard). No quadrature."""
    x = fair / PAIR
    x = 0.005 if x < 0.005 else 0.995 if x > 0.995 else x
    local = sigma50 * local_sigma_scale(x)
    if hours is None or expiry_weight <= 0.0:
        return local
    minutes = hours * 60.0
    expiry = PAIR * normal_pdf(probit(x)) * math.sqrt(expiry_weight / (minutes if minutes > MIN_MINUTES else MIN_MINUTES))
    return expiry if expiry > local else local


def expiry_size_factor(hours: float | None, horizon_ms: int) -> float:
    """The pm-AMM's liquidity shrink √(T − t) relative to a horizon: √(min(1, time left /
    horizon)) in [0, 1]. Its dynamic pm-AMM scales liquidity with √(T − t) so that the expected
    loss to arbitrage (∝ size² × the probability's variance rate 1/(T − t)) stays uniform in
    time; here that loss rate is held at its level `horizon_ms` before the end, with full size
    before it. 1 without an end date or with horizon 0 (no shrink)."""
    if hours is None or horizon_ms <= 0:
        return 1.0
    ratio = hours * MS_PER_HOUR / horizon_ms
    return 1.0 if ratio >= 1.0 else math.sqrt(ratio) if ratio > 0.0 else 0.0


class BinaryRisk(NamedTuple):
    """The inventory risk of one share over the holding horizon (module docstring); a plain
    record built every cycle."""

    variance: float  # V, cents² per share: what γ multiplies
    revealed: float  # f ∈ [0, 1]: the fraction of the remaining information the horizon reveals
    sigma_local_cents: float  # realized σ at the current price, cents per √minute
    sigma_expiry_cents: float  # pm-AMM: 100·φ(Φ⁻¹(p))·√(weight / minutes left), cents per √minute (0: no end)
    settlement_variance: float  # 100²·p(1 − p): the bound of `variance`

    def to_dict(self) -> dict[str, float]:
        return {
            "variance": round(self.variance, 4),
            "revealed": round(self.revealed, 6),
            "sigma_local_cents": round(self.sigma_local_cents, 4),
            "sigma_expiry_cents": round(self.sigma_expiry_cents, 4),
            "settlement_variance": round(self.settlement_variance, 4),
        }


def binary_risk(*, fair: float, sigma50: float, hours: float | None, expiry_weight: float) -> BinaryRisk:
    """V and its parts for a share at `fair` (cents), σ quoted in cents at 50 per √minute
    (volatility.sigma_at50), `hours` to trading end (None: no end date)."""
    x = fair / PAIR
    x = 0.005 if x < 0.005 else 0.995 if x > 0.995 else x
    u = probit(x)
    density = PAIR * normal_pdf(u)  # d(price)/d(probit), cents
    sigma_local = sigma50 * local_sigma_scale(x)
    rate = (sigma_local / density) ** 2  # probit variance per minute, realized
    expiry_rate = 0.0
    if hours is not None and expiry_weight > 0.0:
        minutes = hours * 60.0
        expiry_rate = expiry_weight / (minutes if minutes > MIN_MINUTES else MIN_MINUTES)
    if expiry_rate > rate:
        rate = expiry_rate
    v = rate * RISK_HORIZON_MIN
    f = v / (1.0 + v)
    sigma_expiry = density * math.sqrt(expiry_rate)
    return BinaryRisk(
        variance=revealed_variance(u, f),
        revealed=f,
        sigma_local_cents=sigma_local,
        sigma_expiry_cents=sigma_expiry,
        settlement_variance=settlement_variance(x),
    )
