"""simulate_compare: two runs side by side with their baselines, and issue 13's goals checked
on the later run (sim/compare.py)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sim.compare import Run, goals, maker_figures


def _maker(pnl: float, informed: float, spread: float = 4.0, uptime: float = 1.0) -> dict:
    return {"pnl_cents": pnl, "loss_to_informed_cents": informed, "adverse_selection_cents": -informed,
            "inventory_pnl_cents": pnl / 4, "inventory_variance": 100.0, "avg_spread_cents": spread,
            "uptime": uptime, "fills": 10}


def _run(folder: Path, amm: list[float], sym: list[float], lmsr_informed: float, *, seeds=(1,),
         samples: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    markets = [{"scenario": "resolution" if i == 0 else "calm", "makers": {
        "amm": _maker(a, 100.0), "symmetric": _maker(s, 150.0), "lmsr": _maker(0.0, lmsr_informed)}}
        for i, (a, s) in enumerate(zip(amm, sym))]
    config = {"seeds": list(seeds), "scenarios": ["resolution", "calm"], "duration": 60, "markets": 2, "speed": 1}
    (folder / "results.json").write_text(json.dumps({"config": config, "markets": markets}))
    (folder / "samples.json").write_text(json.dumps(samples or {}))
    return folder


def _samples(both: int, one: int, one_sided_defense: int) -> dict:
    rows = [{"t": 1, "fair": 50, "amm_bid": 48, "amm_ask": 52, "defense": "NORMAL"}] * both
    rows += [{"t": 1, "fair": 50, "amm_bid": None, "amm_ask": 52, "defense": "WIDEN"}] * one
    rows += [{"t": 1, "fair": 50, "amm_bid": None, "amm_ask": 52, "defense": "ONE_SIDE"}] * one_sided_defense
    return {"M": rows}


def test_the_goals_are_judged_against_the_after_runs_own_baselines(tmp_path):
    after = Run.load(_run(tmp_path / "a", amm=[900.0, 1100.0], sym=[0.0, 2000.0], lmsr_informed=300.0,
                          samples=_samples(995, 5, 50)), "after")
    assert maker_figures(after, "amm")["pnl_mean"] == pytest.approx(10.0)
    assert maker_figures(after, "amm")["resolution_pnl"] == pytest.approx(9.0)
    checked = {text: ok for text, ok, _ in goals(after)}
    assert all(checked.values()), checked  # std 1 vs 10, mean 10 vs 10, informed 1 vs 3, uptime 99.5 %
    assert after.uptime_outside_defense() == pytest.approx(0.995)  # the ONE_SIDE samples do not count

    worse = Run.load(_run(tmp_path / "w", amm=[-1000.0, 1200.0], sym=[900.0, 1100.0], lmsr_informed=50.0,
                          samples=_samples(90, 10, 0)), "after")
    assert not any(ok for _, ok, _ in goals(worse))


def test_the_command_writes_the_table_and_the_plot_and_refuses_runs_that_differ(tmp_path):
    before = _run(tmp_path / "b", amm=[-500.0, 500.0], sym=[0.0, 2000.0], lmsr_informed=300.0)
    after = _run(tmp_path / "a", amm=[900.0, 1100.0], sym=[0.0, 2000.0], lmsr_informed=300.0)
    call_command("simulate_compare", str(before), str(after), "--out", str(tmp_path / "out"))
    text = (tmp_path / "out" / "compare.md").read_text()
    assert "| PnL per market, mean ± std ($) | +0.00 ± 7.07 | +10.00 ± 1.41 |" in text
    # three quarters of each PnL was made at the fills (the test's inventory PnL is a quarter)
    assert "| PnL with each fill marked to the truth when it filled, mean ± std ($) | +0.00 ± 5.30 | +7.50 ± 1.06 |" in text
    assert "AMM $+7.50 ± 1.06 vs symmetric $+7.50 ± 10.61" in text
    assert (tmp_path / "out" / "compare.png").stat().st_size > 1000
    other = _run(tmp_path / "o", amm=[1.0, 1.0], sym=[1.0, 1.0], lmsr_informed=1.0, seeds=(2,))
    with pytest.raises(CommandError, match="differ"):
        call_command("simulate_compare", str(before), str(other))


def test_runs_of_other_seeds_merge_into_one_and_the_goals_are_judged_over_all_of_them(tmp_path):
    """A symmetric quoter's lucky settlement in one seed's run is averaged with the other seeds'
    draws: judged alone the first run misses the mean goal, judged with the second it meets it."""
    first = _run(tmp_path / "s1", amm=[900.0, 1100.0], sym=[3000.0, 1000.0], lmsr_informed=300.0, seeds=(1,))
    second = _run(tmp_path / "s2", amm=[1000.0, 1000.0], sym=[-2000.0, 1000.0], lmsr_informed=300.0, seeds=(2,))
    alone = {text: ok for text, ok, _ in goals(Run.load(first, "after"))}
    merged = Run.load_many([first, second], "after")
    both = {text: ok for text, ok, _ in goals(merged)}
    assert not alone["PnL mean ≥ 80 % of the symmetric quoter's"]
    assert both["PnL mean ≥ 80 % of the symmetric quoter's"]
    assert merged.setup()[0] == [1, 2] and len(merged.makers("amm")) == 4
    assert maker_figures(merged, "symmetric")["resolution_pnl"] == pytest.approx(5.0)

    (second / "samples.json").unlink()  # a copy kept packed (docs/sample-report) reads the same
    (second / "samples.json.gz").write_bytes(gzip.compress(json.dumps(_samples(10, 0, 0)).encode()))
    assert Run.load(second, "after").uptime_outside_defense() == 1.0
    call_command("simulate_compare", f"{first},{second}", f"{first},{second}", "--out", str(tmp_path / "out"))
    assert "standard errors over 4 markets" in (tmp_path / "out" / "compare.md").read_text()

    with pytest.raises(ValueError, match="appear in two runs"):
        Run.load_many([first, first], "after")
    other = _run(tmp_path / "s3", amm=[1.0], sym=[1.0], lmsr_informed=1.0, seeds=(3,))
    config = json.loads((other / "results.json").read_text())
    config["config"]["duration"] = 120
    (other / "results.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="different setups"):
        Run.load_many([first, other], "after")
