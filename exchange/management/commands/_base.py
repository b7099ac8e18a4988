"""Shared plumbing of the platform's staff commands: ExchangeError -> CommandError."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from exchange.exceptions import ExchangeError


class ExchangeCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ExchangeError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc


def cents(value: str) -> int:
    """argparse type: a whole number of cents."""
    try:
        amount = int(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a whole number of cents") from None
    return amount
