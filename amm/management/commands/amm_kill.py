"""`python manage.py amm_kill (MARKET_ID ... | --all) --reason TEXT` (SPEC §3.7): engage the
kill switch — cancel every AMM order of those markets now, stop quoting, record who and
why, alert (amm.runtime.operator.kill; in any lifecycle state). Only `amm_resume` brings a
market back."""
from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from amm.exceptions import ActionRefused, InstanceNotFound
from amm.runtime import operator


class Command(BaseCommand):
    help = "Engage the AMM kill switch for some markets or all of them."

    def add_arguments(self, parser):
        parser.add_argument("market_ids", nargs="*", metavar="MARKET_ID")
        parser.add_argument("--all", action="store_true", help="every AMM market")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--actor", default=None, help="who (default: operator:<login>)")

    def handle(self, *args, **options):
        ids, everything = options["market_ids"], options["all"]
        if bool(ids) == bool(everything):
            raise CommandError("name the markets or give --all (not both)")
        if not options["reason"].strip():
            raise CommandError("--reason must say why")
        actor = options["actor"] or f"operator:{getpass.getuser()}"
        try:
            results = operator.kill(market_ids=None if everything else ids, reason=options["reason"], actor=actor)
        except (InstanceNotFound, ActionRefused) as exc:
            raise CommandError(exc.detail) from None
        for r in results:
            state = "ON" if r.engaged else "already ON"
            self.stdout.write(f"{r.market_id}: kill switch {state}, {r.cancelled} orders cancelled"
                              + (f" — {r.error}" if r.error else ""))
        if any(r.error for r in results):
            raise CommandError("some cancels failed; the kill switch is ON and cycles keep cancelling")
