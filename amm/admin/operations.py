"""The operator actions of the console (SPEC §9): start, stop, kill switch, its reset, resume.

Each is one call into `amm.runtime.operator` (the one implementation, shared with the
monitoring API and the commands), needs its own permission, and takes a reason through a
confirmation page. A refusal (`amm.exceptions.ActionRefused`: the transition is illegal
now; the operator function changed nothing) becomes an error message, market by market.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from django import forms
from django.contrib import messages

from amm.exceptions import AMMError
from amm.runtime import operator


@dataclass(frozen=True)
class Operation:
    name: str  # the changelist action's name and the instance page's URL segment
    label: str
    permission: str  # codename in app "amm"; the ModelAdmin asks has_<permission>_permission
    description: str  # shown on the confirmation page

    @property
    def perm(self) -> str:
        return f"amm.{self.permission}"


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("start", "Start", "operate_instance",
              "STOPPED → STARTING: a running run_amm picks the market up within seconds "
              "(startup sync, then RUNNING and quoting)."),
    Operation("stop", "Stop", "operate_instance",
              "RUNNING, EMERGENCY or WINDING_DOWN → STOPPED: the market's AMM orders are cancelled "
              "on the platform before the action returns."),
    Operation("kill", "Engage kill switch", "engage_killswitch",
              "Kill switch ON: quoting stops (defense KILL_SWITCH, RUNNING → EMERGENCY) and every AMM "
              "order of the market is cancelled on the platform before the action returns. Only a reset "
              "of the kill switch lifts it."),
    Operation("reset_kill_switch", "Reset kill switch", "reset_killswitch",
              "Kill switch OFF and defense KILL_SWITCH → NORMAL; an EMERGENCY the kill switch caused "
              "resumes to RUNNING (re-sync, then quoting)."),
    Operation("resume", "Resume", "operate_instance",
              "EMERGENCY → RUNNING (refused while the market is not ACTIVE on the platform)."),
)}


class ReasonForm(forms.Form):
    """The reason every operator action records (LifecycleChange / KillSwitchChange)."""

    reason = forms.CharField(
        max_length=255, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why (kept in the audit records with your user name).",
    )


@dataclass(frozen=True)
class Outcome:
    market_id: str
    level: int  # a django.contrib.messages level
    text: str

    @property
    def done(self) -> bool:
        return self.level != messages.ERROR


def _run_kill(market_ids: list[str], *, reason: str, actor: str) -> list[Outcome]:
    try:
        results = operator.kill(market_ids=market_ids, reason=reason, actor=actor)
    except AMMError as exc:
        return [Outcome(m, messages.ERROR, f"{m}: kill switch refused: {exc.detail}") for m in market_ids]
    outcomes = []
    for result in results:
        what = "kill switch engaged" if result.engaged else "kill switch already ON"
        text = f"{result.market_id}: {what}, {result.cancelled} AMM orders cancelled"
        error = getattr(result, "error", "")
        outcomes.append(Outcome(result.market_id, messages.WARNING if error else messages.SUCCESS,
                                f"{text}; {error}" if error else text))
    return outcomes


def operation_run(operation: Operation, *, market_ids: Iterable[str], reason: str, actor: str) -> list[Outcome]:
    """Run one operator action on some markets: the kill switch in one call for all of them
    (all stop within one cycle), the others market by market (a refusal for one market
    leaves that market unchanged and the others go on)."""
    ids = list(market_ids)
    if operation.name == "kill":
        return _run_kill(ids, reason=reason, actor=actor)
    call = getattr(operator, operation.name)
    outcomes = []
    for market_id in ids:
        try:
            instance = call(market_id=market_id, reason=reason, actor=actor)
        except AMMError as exc:
            outcomes.append(Outcome(market_id, messages.ERROR, f"{market_id}: {operation.label} refused: {exc.detail}"))
        else:
            outcomes.append(Outcome(market_id, messages.SUCCESS,
                                    f"{market_id}: {operation.label} done — now {instance.lifecycle_state}, "
                                    f"kill switch {instance.kill_switch}"))
    return outcomes
