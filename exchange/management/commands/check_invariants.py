from django.core.management.base import BaseCommand, CommandError

from exchange.invariants import invariants_check


class Command(BaseCommand):
    help = "Check the platform invariants I1-I5 and the per-account rules (SPEC §3.5); exit 1 naming each violation."

    def handle(self, *args, **options):
        violations = invariants_check()
        for violation in violations:
            self.stderr.write(violation)
        if violations:
            raise CommandError(f"{len(violations)} invariant violation(s)")
        self.stdout.write("all invariants hold")
