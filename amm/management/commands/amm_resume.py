"""`python manage.py amm_resume MARKET_ID --reason TEXT` (SPEC §3.7): an operator's
confirmed reset of the kill switch / resume from EMERGENCY, through the FSM (refused where
the transition is illegal, or while the market is not ACTIVE unless --force)."""
from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError
from django_fsm import TransitionNotAllowed


class Command(BaseCommand):
    help = "Resume an AMM market from EMERGENCY (resets the kill switch)."

    def add_arguments(self, parser):
        parser.add_argument("market_id", metavar="MARKET_ID")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--actor", default=None, help="who (default: operator:<login>)")
        parser.add_argument("--force", action="store_true", help="resume even if the market is not ACTIVE")

    def handle(self, *args, **options):
        from amm.models import AMMInstance
        from amm.runtime.killswitch import resume

        if not options["reason"].strip():
            raise CommandError("--reason must say why")
        actor = options["actor"] or f"operator:{getpass.getuser()}"
        try:
            instance = resume(market_id=options["market_id"], reason=options["reason"], actor=actor,
                              check_market=not options["force"])
        except AMMInstance.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        except (TransitionNotAllowed, ValueError) as exc:
            raise CommandError(f"refused: {exc}") from None
        self.stdout.write(f"{instance.market_id}: {instance.lifecycle_state}, kill switch {instance.kill_switch}")
