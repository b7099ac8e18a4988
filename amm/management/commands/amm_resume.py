"""`python manage.py amm_resume MARKET_ID --reason TEXT` (SPEC §3.7): an operator's
confirmed reset of the kill switch / resume from EMERGENCY, through the operator actions
(amm/runtime/operator.py), refused where the machine does not allow it.

With the kill switch ON this is its reset (`reset_kill_switch`: switch OFF, defense
NORMAL, an EMERGENCY the switch caused -> RUNNING, a wind-down goes on); with it OFF, a
resume from EMERGENCY (`resume`), refused while the market is not ACTIVE unless --force."""
from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from amm.exceptions import ActionRefused, InstanceNotFound
from amm.models import AMMInstance
from amm.runtime import operator


class Command(BaseCommand):
    help = "Resume an AMM market from EMERGENCY (resets the kill switch)."

    def add_arguments(self, parser):
        parser.add_argument("market_id", metavar="MARKET_ID")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--actor", default=None, help="who (default: operator:<login>)")
        parser.add_argument("--force", action="store_true", help="resume even if the market is not ACTIVE")

    def handle(self, *args, **options):
        if not options["reason"].strip():
            raise CommandError("--reason must say why")
        actor = options["actor"] or f"operator:{getpass.getuser()}"
        market_id = options["market_id"]
        try:
            switch_on = AMMInstance.objects.filter(market_id=market_id, kill_switch="ON").exists()
            if switch_on:
                instance = operator.reset_kill_switch(market_id=market_id, reason=options["reason"], actor=actor)
            else:
                instance = operator.resume(market_id=market_id, reason=options["reason"], actor=actor,
                                           check_market=not options["force"])
        except InstanceNotFound as exc:
            raise CommandError(exc.detail) from None
        except ActionRefused as exc:
            raise CommandError(f"refused: {exc.detail}") from None
        self.stdout.write(f"{instance.market_id}: {instance.lifecycle_state}, kill switch {instance.kill_switch}")
