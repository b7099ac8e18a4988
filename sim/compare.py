"""Two simulation runs side by side (before / after a change to the AMM), with the baselines
of each run: the figures issue 13 judges quote quality by, and its goals checked.

Both runs must use the same seeds, scenarios and duration (the same true paths and trader
arrivals); the baselines are replayed on each run's paths and flow and scaled to that run's
AMM depth, so they are shown for both runs. Pure: reads the runs' `results.json` and
`samples.json`, returns rows; `simulate_compare` writes the markdown and the plot.

Beside the goals it shows the PnL with each fill marked to the truth when it filled (PnL
minus inventory PnL, sim/metrics.py). The truth is a martingale (the probability given what is
known), so that is the expected PnL of the fills made; the inventory PnL, what the positions
then won or lost as the truth moved (in the resolution scenario, at the 0/100 settlement), has
mean zero and is what three seeds' draws add to it.
"""
from __future__ import annotations

import gzip
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

ONE_SIDED_DEFENSES = ("ONE_SIDE", "KILL_SWITCH")  # defense states that quote one side (or none) on purpose


@dataclass(frozen=True)
class Run:
    label: str
    results: dict
    samples: dict[str, list[dict]]

    @classmethod
    def load(cls, folder: Path, label: str) -> "Run":
        samples_file, packed = folder / "samples.json", folder / "samples.json.gz"  # .gz: a copy kept in docs/
        if samples_file.exists():
            samples = json.loads(samples_file.read_text())
        elif packed.exists():
            samples = json.loads(gzip.decompress(packed.read_bytes()))
        else:
            samples = {}
        return cls(label=label, results=json.loads((folder / "results.json").read_text()), samples=samples)

    @classmethod
    def load_many(cls, folders: list[Path], label: str) -> "Run":
        """Runs of other seeds of one setup as one run (more seeds: the settlement draws that
        dominate the resolution scenario average out)."""
        return cls.merge([cls.load(folder, label) for folder in folders], label)

    @classmethod
    def merge(cls, runs: list["Run"], label: str) -> "Run":
        if not runs:
            raise ValueError("no run to merge")
        first = runs[0]
        same = ("scenarios", "duration", "markets", "speed")
        seeds: list = []
        markets: list[dict] = []
        samples: dict[str, list[dict]] = {}
        for run in runs:
            config = run.results["config"]
            if tuple(config.get(k) for k in same) != tuple(first.results["config"].get(k) for k in same):
                raise ValueError(f"runs of different setups cannot be merged: {run.setup()} vs {first.setup()}")
            repeated = set(seeds) & set(config.get("seeds") or [])
            if repeated:
                raise ValueError(f"seed(s) {sorted(repeated)} appear in two runs")
            seeds += list(config.get("seeds") or [])
            markets += run.results["markets"]
            samples.update(run.samples)
        if len(runs) == 1:
            return cls(label=label, results=first.results, samples=first.samples)
        results = {**first.results, "config": {**first.results["config"], "seeds": sorted(seeds)}, "markets": markets,
                   "merged_from": [run.results.get("command") for run in runs]}
        return cls(label=label, results=results, samples=samples)

    def setup(self) -> tuple:
        config = self.results["config"]
        return tuple(config.get(k) for k in ("seeds", "scenarios", "duration", "markets", "speed"))

    def makers(self, name: str) -> list[dict]:
        return [m["makers"][name] for m in self.results["markets"]]

    def scenario_pnl(self, name: str, scenario: str) -> float | None:
        values = [m["makers"][name]["pnl_cents"] for m in self.results["markets"] if m["scenario"] == scenario]
        return statistics.fmean(values) if values else None

    def uptime_outside_defense(self) -> float | None:
        """The AMM's two-sided quote uptime over the samples where it was quoting on purpose
        both ways: RUNNING (it has a fair price), defense NORMAL or WIDEN, kill switch off."""
        both = counted = 0
        for rows in self.samples.values():
            for row in rows:
                if row.get("t", 0) < 0 or row.get("fair") is None or row.get("kill") == "ON":
                    continue
                if (row.get("defense") or "NORMAL") in ONE_SIDED_DEFENSES:
                    continue
                counted += 1
                both += row.get("amm_bid") is not None and row.get("amm_ask") is not None
        return both / counted if counted else None


def _standard_error(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def _mean_std(values: list[float]) -> tuple[float, float]:
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0) if values else (0.0, 0.0)  # sample std, as the report


def _dollars(cents: float | None) -> float | None:
    return None if cents is None else cents / 100


def maker_figures(run: Run, name: str) -> dict:
    rows = run.makers(name)
    pnl_mean, pnl_std = _mean_std([r["pnl_cents"] for r in rows])
    at_fill_mean, at_fill_std = _mean_std([r["pnl_cents"] - r["inventory_pnl_cents"] for r in rows])
    spreads = [r["avg_spread_cents"] for r in rows if r.get("avg_spread_cents") is not None]
    return {
        "pnl_mean": pnl_mean / 100, "pnl_std": pnl_std / 100,
        "pnl_se": _standard_error([r["pnl_cents"] for r in rows]) / 100, "markets": len(rows),
        "at_fill_mean": at_fill_mean / 100, "at_fill_std": at_fill_std / 100,
        "loss_to_informed": statistics.fmean(r["loss_to_informed_cents"] for r in rows) / 100,
        "adverse_selection": statistics.fmean(r["adverse_selection_cents"] for r in rows) / 100,
        "inventory_variance": statistics.fmean(r["inventory_variance"] for r in rows),
        "spread": statistics.fmean(spreads) if spreads else None,
        "uptime": statistics.fmean(r["uptime"] for r in rows),
        "resolution_pnl": _dollars(run.scenario_pnl(name, "resolution")),
        "fills": sum(r["fills"] for r in rows),
    }


def goals(after: Run) -> list[tuple[str, bool, str]]:
    """Issue 13's goals on the `after` run, against that run's own baselines."""
    amm, sym, lmsr = (maker_figures(after, n) for n in ("amm", "symmetric", "lmsr"))
    std_ratio = amm["pnl_std"] / sym["pnl_std"] if sym["pnl_std"] else float("inf")
    # "at ≥ 80 % of its mean": with a negative symmetric mean, any mean at or above it qualifies
    mean_ok = amm["pnl_mean"] >= (0.8 * sym["pnl_mean"] if sym["pnl_mean"] > 0 else sym["pnl_mean"])
    uptime = after.uptime_outside_defense()
    return [
        ("PnL std ≤ 50 % of the symmetric quoter's", std_ratio <= 0.5, f"{std_ratio:.0%}"),
        ("PnL mean ≥ 80 % of the symmetric quoter's", mean_ok,
         f"${amm['pnl_mean']:+.2f} ± {amm['pnl_se']:.2f} vs ${sym['pnl_mean']:+.2f} ± {sym['pnl_se']:.2f}, "
         f"standard errors over {amm['markets']} markets"),
        ("loss to informed flow below the LMSR's", amm["loss_to_informed"] < lmsr["loss_to_informed"],
         f"${amm['loss_to_informed']:.2f} vs ${lmsr['loss_to_informed']:.2f}"),
        ("two-sided uptime ≥ 99 % outside defense states", uptime is not None and uptime >= 0.99,
         "n/a" if uptime is None else f"{uptime:.1%}"),
    ]


def table(before: Run, after: Run) -> list[list[str]]:
    columns = [(before, "amm"), (after, "amm"), (before, "symmetric"), (after, "symmetric"), (before, "lmsr"),
               (after, "lmsr")]
    figures = [maker_figures(run, name) for run, name in columns]

    def money(v):
        return "—" if v is None else f"{v:+,.2f}"

    def plain(v, fmt):
        return "—" if v is None else format(v, fmt)

    rows = [["", *(f"{name} ({run.label})" for run, name in columns)],
            ["PnL per market, mean ± std ($)", *(f"{f['pnl_mean']:+,.2f} ± {f['pnl_std']:,.2f}" for f in figures)],
            ["PnL with each fill marked to the truth when it filled, mean ± std ($)",
             *(f"{f['at_fill_mean']:+,.2f} ± {f['at_fill_std']:,.2f}" for f in figures)],
            ["loss to informed + stale takers per market ($)", *(plain(f["loss_to_informed"], ",.2f") for f in figures)],
            ["adverse selection per market ($)", *(money(f["adverse_selection"]) for f in figures)],
            ["inventory variance (shares²)", *(plain(f["inventory_variance"], ",.0f") for f in figures)],
            ["spread at the touch (¢)", *(plain(f["spread"], ".2f") for f in figures)],
            ["quote uptime, both sides", *(plain(f["uptime"], ".1%") for f in figures)],
            ["PnL in the resolution scenario ($)", *(money(f["resolution_pnl"]) for f in figures)],
            ["fills", *(str(f["fills"]) for f in figures)]]
    outside = [before.uptime_outside_defense(), after.uptime_outside_defense()]
    rows.append(["AMM two-sided uptime outside defense states", *("—" if u is None else f"{u:.1%}" for u in outside),
                 "", "", "", ""])
    return rows


def markdown(before: Run, after: Run) -> str:
    if before.setup() != after.setup():
        raise ValueError(f"the runs differ in seeds/scenarios/duration/markets/speed: {before.setup()} vs {after.setup()}")
    rows = table(before, after)
    lines = ["| " + " | ".join(rows[0]) + " |", "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    lines += ["", "Goals (the after run against its own baselines):", ""]
    lines += [f"- {'met' if ok else 'NOT met'}: {text} ({value})" for text, ok, value in goals(after)]
    amm, sym = maker_figures(after, "amm"), maker_figures(after, "symmetric")
    lines += ["", "With each fill marked to the truth when it filled (the expected PnL of the fills; the "
              "inventory PnL that the paths' outcomes add has mean zero): AMM "
              f"${amm['at_fill_mean']:+.2f} ± {amm['at_fill_std']:.2f} vs symmetric "
              f"${sym['at_fill_mean']:+.2f} ± {sym['at_fill_std']:.2f}."]
    return "\n".join(lines) + "\n"
