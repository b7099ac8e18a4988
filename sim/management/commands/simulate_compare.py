"""`manage.py simulate_compare BEFORE AFTER [--out DIR]`: two simulation runs of the same
seeds and scenarios side by side with their baselines (sim/compare.py), as markdown and a
plot of each maker's PnL per market."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sim.compare import Run, maker_figures, markdown
from sim.report import _plt


class Command(BaseCommand):
    help = "Compare two simulation runs (before / after) with their baselines; writes compare.md and compare.png."

    def add_arguments(self, parser):
        parser.add_argument("before", help="the earlier run's folder (its results.json, samples.json); "
                                           "runs of other seeds of the same setup: folders joined by commas")
        parser.add_argument("after", help="the later run's folder (or folders, joined by commas)")
        parser.add_argument("--out", default=None, help="where to write (default: the after run's folder)")
        parser.add_argument("--labels", default="before,after", help="the two runs' names in the table")

    def handle(self, *args, **options):
        labels = [s.strip() for s in options["labels"].split(",")]
        if len(labels) != 2:
            raise CommandError("--labels takes two names")
        try:
            before = Run.load_many(_folders(options["before"]), labels[0])
            after = Run.load_many(_folders(options["after"]), labels[1])
            text = markdown(before, after)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot compare: {exc}") from exc
        out = Path(options["out"] or _folders(options["after"])[0])
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(text)
        plot(before, after, out / "compare.png")
        self.stdout.write(text)
        self.stdout.write(f"written: {out / 'compare.md'}, {out / 'compare.png'}")


def _folders(value: str) -> list[Path]:
    return [Path(part) for part in value.split(",") if part.strip()]


def plot(before: Run, after: Run, path: Path) -> Path:
    plt = _plt()
    columns = [(before, "amm"), (after, "amm"), (after, "symmetric"), (after, "lmsr")]
    names = [f"AMM ({before.label})", f"AMM ({after.label})", f"symmetric ({after.label})", f"LMSR ({after.label})"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (run, maker) in enumerate(columns):
        pnl = [m["pnl_cents"] / 100 for m in run.makers(maker)]
        ax1.scatter([i] * len(pnl), pnl, alpha=0.6, s=18)
        f = maker_figures(run, maker)
        ax1.errorbar([i + 0.15], [f["pnl_mean"]], yerr=[f["pnl_std"]], fmt="o", color="black", capsize=4)
        ax2.bar(i, f["loss_to_informed"], color="tab:red" if maker == "amm" else "tab:gray")
    for ax, title in ((ax1, "PnL per market ($): markets, mean ± std"),
                      (ax2, "loss to informed + stale takers per market ($)")):
        ax.set_xticks(range(len(names)), names, rotation=15)
        ax.set_title(title)
        ax.axhline(0, color="black", lw=0.6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
