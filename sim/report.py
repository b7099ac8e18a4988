"""The run's report: `report.md` with its tables and PNG plots under the output folder.

Money is shown in dollars (the figures are computed in cents). Plots use matplotlib's Agg
backend (no display needed).
"""
from __future__ import annotations

from pathlib import Path

from sim.metrics import curves

MAKER_NAMES = {"amm": "AMM (live)", "symmetric": "symmetric quoter", "lmsr": "LMSR"}
MAKER_COLORS = {"amm": "tab:blue", "symmetric": "tab:orange", "lmsr": "tab:green"}


def dollars(cents: float | None, signed: bool = True) -> str:
    if cents is None:
        return "–"
    return f"{cents / 100:+,.2f}" if signed else f"{cents / 100:,.2f}"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def headline_rows(result: dict) -> list[list[str]]:
    agg = result["aggregate"]
    makers = list(MAKER_NAMES)
    n = agg["amm"]["markets"]
    seeds = len(result["config"]["seeds"])
    rows = [["", *(MAKER_NAMES[m] for m in makers)]]
    rows.append([f"PnL per market, mean ± std over {n} markets ($)",
                 *(f"{dollars(agg[m]['pnl_mean_cents'])} ± {dollars(agg[m]['pnl_std_cents'], False)}" for m in makers)])
    if seeds > 1:
        rows.append([f"PnL per seed, mean ± std over {seeds} seeds ($)",
                     *(f"{dollars(agg[m]['pnl_per_seed_mean_cents'])} ± {dollars(agg[m]['pnl_per_seed_std_cents'], False)}"
                       for m in makers)])
    rows.append(["total PnL ($)", *(dollars(agg[m]["pnl_total_cents"]) for m in makers)])
    rows.append(["worst drawdown, one market ($)", *(dollars(agg[m]["worst_drawdown_cents"], False) for m in makers)])
    rows.append(["mean drawdown per market ($)", *(dollars(agg[m]["mean_drawdown_cents"], False) for m in makers)])
    rows.append(["inventory variance, mean (shares²)", *(num(agg[m]["inventory_variance_mean"], 0) for m in makers)])
    rows.append(["quote uptime (both sides live)", *(pct(agg[m]["uptime_mean"]) for m in makers)])
    rows.append(["loss to informed + stale-quote takers per market ($)",
                 *(dollars(agg[m]["loss_to_informed_mean_cents"]) for m in makers)])
    rows.append(["fills / shares traded", *(f"{agg[m]['fills']:,} / {agg[m]['volume']:,}" for m in makers)])
    bounds = [m["baseline_params"]["lmsr"]["worst_loss_from_50c_cents"] for m in result["markets"]]
    rows.append(["worst-case loss by design, per market ($)", "none", "none",
                 f"b·ln 2 = {dollars(sum(bounds) / len(bounds), False)}" if bounds else "–"])
    return rows


def table(rows: list[list[str]], align: str | None = None) -> str:
    head, *body = rows
    align = align or "l" + "r" * (len(head) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def console_table(rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def write_report(result: dict, out: Path) -> Path:
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    summary_png = plot_summary(result, plots / "summary.png")
    market_pngs = [plot_market(m, result, plots / f"{m['label']}.png") for m in result["markets"]]
    path = out / "report.md"
    path.write_text(markdown(result, summary_png.relative_to(out), [p.relative_to(out) for p in market_pngs]))
    return path


def markdown(result: dict, summary_png: Path, market_pngs: list[Path]) -> str:
    cfg = result["config"]
    markets = result["markets"]
    mix = cfg["mix"]
    oracle = cfg["oracle"]
    lines = ["# AMM trading-quality report", ""]
    lines += [f"Produced by: `{result['command']}`", ""]
    lines += [f"- started {result['started_at']}; {len(markets)} markets ({len(cfg['seeds'])} seed(s): "
              f"{', '.join(str(s) for s in cfg['seeds'])}; scenarios {', '.join(dict.fromkeys(m['scenario'] for m in markets))})",
              f"- {cfg['duration']:.0f} simulated seconds at speed {cfg['speed']:g} ({cfg['duration'] / cfg['speed']:.0f} wall "
              f"seconds){'; interrupted at ' + format(result['horizon'], '.0f') + ' s (' + result['interrupted'] + ')' if result['interrupted'] else ''}",
              f"- traders per market and simulated second: noise {mix['noise_rate']:g} ({100 * mix['noise_take_share']:.0f} % "
              f"marketable), informed {mix['informed_rate']:g} (latency {mix['informed_latency']:g} s, edge "
              f"{mix['informed_edge']:g} c), stale-quote takers {'on' if mix['stale_on'] else 'off'} (after a "
              f"{mix['stale_threshold']:g} c move within {mix['stale_window']:g} s)",
              _lag_line(result),
              f"- oracle: a value every {oracle['interval']:g} s, {oracle['delay']:g} s behind the truth, noise "
              f"{oracle['noise_cents']:g} c; "
              + ("read by the AMM through its HTTP oracle poller" if result["oracle_wired"] else
                 "**not read by the AMM** (this build has no oracle poller: its fair price comes from the book and "
                 "its fills only)"),
              f"- market fees: maker {cfg['maker_fee_bps']} bps, taker {cfg['taker_fee_bps']} bps; "
              + ("every market resolved by its true outcome and settled at the end" if result["resolved"]
                 else "PnL marked to the true probability at the window's end"),
              ""]
    lines += ["## Headline: the AMM against two baselines on the same paths and order flow", "",
              table(headline_rows(result), "lrrr"), "",
              "The AMM's figures are its live trades on the platform; the baselines are replayed offline on the same "
              "true paths and the same trader arrivals (see Method). PnL is marked to the truth; loss to informed "
              "traders is their fills' markout against the truth at the fill (positive: the maker lost).", ""]
    agg = result["aggregate"]
    scenarios = list(agg["amm"]["by_scenario"])
    lines += ["## PnL by scenario (mean per market, $)", "",
              table([["scenario", *(MAKER_NAMES[m] for m in MAKER_NAMES)]] +
                    [[sc, *(dollars(agg[m]["by_scenario"][sc]) for m in MAKER_NAMES)] for sc in scenarios]), ""]
    lines += ["## The AMM per market", "",
              "PnL = spread capture (against its own fair price at the fill) + adverse selection (the truth at the "
              "fill against that fair price) + inventory PnL (the truth moving while held) + fees, in dollars.", ""]
    rows = [["market", "truth start→end (c)", "PnL", "spread capture", "adverse sel.", "inventory", "fees", "fills",
             "shares", "uptime", "avg spread (c)", "depth at touch", "max abs. net inv.", "defense / phase changes",
             "ledger check"]]
    for m in markets:
        a = m["makers"]["amm"]
        lc = m["ledger_check"]
        rows.append([m["label"], f"{m['truth_start']:.1f} → {m['truth_end']:.1f}", dollars(a["pnl_cents"]),
                     dollars(a["spread_capture_cents"]), dollars(a["adverse_selection_cents"]),
                     dollars(a["inventory_pnl_cents"]), dollars(a["fees_cents"]), a["fills"], a["volume"],
                     pct(a["uptime"]), num(a["avg_spread_cents"]), num(a["avg_depth_at_touch"], 0),
                     a["max_abs_inventory"], f"{len(m['transitions']['defense'])} / {len(m['transitions']['phase'])}",
                     "ok" if abs(lc["difference_cents"]) < 0.01 else f"off by {lc['difference_cents']:.2f} c"])
    lines += [table(rows), ""]
    if result["resolved"]:
        lines += ["Settled PnL (every market resolved by its outcome and paid out): "
                  + ", ".join(f"{m['label']} {dollars(m['settled_pnl_cents'])}" for m in markets) + " ($).", ""]
    lines += ["Ledger check: the PnL above recomputed from the platform's books only — the AMM's ledger entries in "
              "the market, cash still frozen by its orders, and its YES/NO position valued at "
              + ("the outcome" if result["resolved"] else "the final truth") + " — equals the fill-based figure.", ""]
    lines += ["## Baselines per market", ""]
    rows = [["market", "symmetric PnL", "spread / size / levels", "sym. uptime", "LMSR PnL", "LMSR b (shares)",
             "b·ln 2 ($)", "bound from p0 ($)", "loss to informed: AMM / sym. / LMSR"]]
    for m in markets:
        s, l = m["makers"]["symmetric"], m["makers"]["lmsr"]
        sp, lp = m["baseline_params"]["symmetric"], m["baseline_params"]["lmsr"]
        rows.append([m["label"], dollars(s["pnl_cents"]), f"{sp['spread_cents']} c / {sp['size']} / {sp['levels']}",
                     pct(s["uptime"]), dollars(l["pnl_cents"]), num(lp["b"], 0),
                     dollars(lp["worst_loss_from_50c_cents"], False), dollars(lp["worst_loss_from_p0_cents"], False),
                     " / ".join(dollars(m["makers"][k]["loss_to_informed_cents"]) for k in MAKER_NAMES)])
    lines += [table(rows), ""]
    lines += ["## The AMM's defense and phase changes", ""]
    any_change = False
    for m in markets:
        changes = [f"defense {c['from']}→{c['to']} ({c['reason']})" for c in m["transitions"]["defense"]]
        changes += [f"phase {c['from']}→{c['to']} ({c['reason']})" for c in m["transitions"]["phase"]]
        if changes:
            any_change = True
            shown = changes[:12] + ([f"… {len(changes) - 12} more"] if len(changes) > 12 else [])
            lines.append(f"- {m['label']}: " + "; ".join(shown))
    if not any_change:
        lines.append("None: every market stayed in its starting phase at defense NORMAL.")
    lines += ["", "## Invariants at the end", ""]
    platform = result["platform_invariants"]
    lines.append("Platform I1–I5 and the account rules (`exchange.invariants.invariants_check`): "
                 + ("**all hold**." if not platform else "**violated**: " + "; ".join(platform)))
    lines.append("")
    rows = [["market", "A1 max abs. skew (samples)", "A1", "A2 (available ≥ 0)", "A3 asset value ($)", "A3"]]
    for m in markets:
        inv = m["invariants"]
        rows.append([m["label"], f"{inv['A1_max_abs_skew']:.2f}", _ok(inv["A1_ok"]), _ok(inv["A2_ok"]),
                     dollars(inv["A3_asset_value_cents"], False), _ok(inv["A3_ok"])])
    lines += [table(rows, "lrrrrr"), "",
              "A1: |skew| ≤ 0.95 unless the kill switch is on and the book empty (checked on every sample); A2: the "
              "AMM's available YES and NO never negative (platform position and the AMM's Redis view); A3: cash + "
              "YES·fair + NO·(100 − fair) at or above the configured floor (AMM Redis view).", ""]
    lines += ["## Plots", "", f"![PnL per market and maker]({summary_png})", ""]
    for m, png in zip(markets, market_pngs):
        lines += [f"### {m['label']}", "", f"![{m['label']}]({png})", ""]
    lines += [METHOD, ""]
    return "\n".join(lines)


def _lag_line(result: dict) -> str:
    t = result.get("traders") or {}
    if "lag_median_s" not in t:
        return "- traders: no arrivals executed"
    return (f"- traders sent {t['orders']:,} orders ({t['rejected']} refused) for {t['arrivals']:,} arrivals; they acted "
            f"{t['lag_median_s']:.3f} s after their planned time at the median, {t['lag_p95_s']:.3f} s at the 95th "
            f"percentile, {t['lag_max_s']:.3f} s at most (simulated seconds: the machine's load delays them)")


def _ok(flag: bool) -> str:
    return "holds" if flag else "**breached**"


METHOD = """## Method

- **Truth.** Each market's probability follows the Gaussian score dynamics of Moallemi &
  Robinson's pm-AMM paper: p = Φ(Z/(σ√(T−t))) with Z a Brownian motion (plus a drift for
  *trending*, jumps for *news*), T the event time (far beyond the window for *calm*,
  *trending* and *news*, 8 windows ahead for *volatile*, the window's end for *resolution*,
  which ends at 0 or 1). The paths are drawn from the seed.
- **Oracle.** An HTTP feed (`GET /oracle/{market_id}`) publishes the truth of `delay`
  seconds earlier plus Gaussian noise, once per interval; the AMM polls it through its own
  HTTP oracle adapter when the build has one.
- **Traders** trade over the platform's REST API as ordinary users. Their arrivals (time,
  kind, side, size, limit or marketable, the informed traders' valuation) are drawn from
  the seed before the run; each is turned into an order from the best bid and ask the
  trader sees at that moment. Noise traders take the touch (unless the spread exceeds 10 c)
  or rest a limit order near it for 5–30 s; informed traders learn the truth and act
  after a latency, only where the book is mispriced by their edge; stale-quote takers hit
  quotes right after the truth jumps.
- **The AMM** runs as in production: `run_amm` with its RQ workers, its default config
  (the seed's parameters) plus the oracle settings, trading the platform over HTTP.
- **PnL** is marked to the truth: a fill of q shares at x changes wealth by ±q·(V − x) −
  fee, V the final value; it splits exactly into spread capture (against the maker's own
  fair price at the fill, for the AMM its last sampled `fair_price_cents`), adverse
  selection (truth at the fill against that fair price: the fill's markout), inventory PnL
  (V against the truth at the fill) and fees. The AMM's total is checked against its
  ledger entries and positions on the platform.
- **Baselines** (`sim/baselines.py`) are replayed offline, deterministically, on the same
  true path and the same arrivals, each arrival decided by the same rule from the book the
  baseline presents (its quotes plus the traders' resting orders): a symmetric quoter
  (the AMM's sampled fair price ± half the AMM's median live spread, the AMM's ladder and
  median size at the touch, no skew, no defense, stops one side at the position limit) and
  an LMSR (Hanson's cost function, b = 25 × the AMM's median size at the touch, so that a
  one-cent move at 50 c takes that many shares; it never needs a price feed and loses at
  most 100·b·ln 2 cents from 50 c).
- **Time.** The AMM runs on the wall clock. At speed k the simulated clock (paths, oracle,
  arrivals, the markets' trading end) runs k times faster than the wall, while the AMM's
  own intervals (requote, oracle poll, cooldowns, phase timers) stay in wall time: at k > 1
  the AMM reacts k times slower in simulated time than it would in production.

## Limits

- The baselines see what the live AMM saw, not what they would have caused: the symmetric
  quoter's fair price is the AMM's, which moved with the AMM's own fills; traders' resting
  orders in the replay do not react to the baseline's quotes beyond the arrival rule.
- In the replay, traders' resting orders keep priority over a baseline's quotes at the
  same price (the live AMM requotes every second and rarely keeps time priority); a
  baseline's quote that would cross a resting order is left out (post-only).
- The LMSR trades at exact fractional-cent prices with no fees; the platform's cents
  grid and fees apply to the AMM and the symmetric quoter.
- Quote uptime, spread and depth are sampled once a wall second; the AMM's fair price at a
  fill is its last sample before it.
- A few markets and minutes are a small sample: the std columns say how much the figures
  move between markets and seeds.
"""


# --- plots -------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_market(m: dict, result: dict, path: Path) -> Path:
    plt = _plt()
    rows = m["_rows"]
    plan = m["_plan"]
    horizon = result["horizon"]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 9), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 1.4, 1.6]})
    grid = [k * plan.truth.dt for k in range(len(plan.truth.probs)) if k * plan.truth.dt <= horizon + 1e-9]
    ax1.plot(grid, [100 * plan.truth.at(t) for t in grid], color="black", lw=1.4, label="true probability")
    otimes = [j * plan.oracle.spec.interval for j in range(len(plan.oracle.values))
              if j * plan.oracle.spec.interval <= horizon + 1e-9]
    ax1.step(otimes, plan.oracle.values[:len(otimes)], where="post", color="tab:purple", lw=0.8, alpha=0.8,
             label="oracle feed")
    t = [s["t"] for s in rows]
    ax1.plot(t, [s["fair"] for s in rows], color="tab:blue", lw=1.2, label="AMM fair price")
    ax1.step(t, [s["amm_bid"] for s in rows], where="post", color="tab:green", lw=0.9, label="AMM best bid")
    ax1.step(t, [s["amm_ask"] for s in rows], where="post", color="tab:red", lw=0.9, label="AMM best ask")
    fills = m["_fills"]["amm"]
    if fills:
        ax1.scatter([f.t for f in fills], [f.price for f in fills], s=[6 + min(f.qty, 60) / 2 for f in fills],
                    c=["tab:green" if f.d > 0 else "tab:red" for f in fills], alpha=0.5, lw=0, label="AMM fills")
    ax1.set_ylabel("YES price (cents)")
    ax1.set_ylim(0, 100)
    ax1.legend(loc="upper left", fontsize=7, ncol=3)
    ax1.set_title(f"{m['label']} — {m['scenario']}  (AMM PnL {dollars(m['makers']['amm']['pnl_cents'])} $)")
    times = [s["t"] for s in rows]
    for name in ("amm", "symmetric", "lmsr"):
        c = curves(m["_fills"][name], plan.truth, times)
        ax2.plot(times, c.inventory, color=MAKER_COLORS[name], lw=1.1, label=MAKER_NAMES[name])
        ax3.plot(times, [v / 100 for v in c.pnl], color=MAKER_COLORS[name], lw=1.1, label=MAKER_NAMES[name])
    ax2.axhline(0, color="grey", lw=0.5)
    ax2.set_ylabel("net YES (shares)")
    ax2.legend(loc="upper left", fontsize=7, ncol=3)
    ax3.axhline(0, color="grey", lw=0.5)
    ax3.set_ylabel("PnL at truth ($)")
    ax3.set_xlabel("simulated seconds")
    ax3.legend(loc="upper left", fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_summary(result: dict, path: Path) -> Path:
    plt = _plt()
    markets = result["markets"]
    labels = [m["label"] for m in markets]
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(labels) + 3), 4.2))
    width = 0.27
    for i, name in enumerate(("amm", "symmetric", "lmsr")):
        xs = [k + (i - 1) * width for k in range(len(labels))]
        ax.bar(xs, [m["makers"][name]["pnl_cents"] / 100 for m in markets], width, color=MAKER_COLORS[name],
               label=MAKER_NAMES[name])
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("PnL at truth ($)")
    ax.set_title("PnL per market: the AMM (live) against the baselines (replayed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
