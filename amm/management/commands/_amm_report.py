"""Shared bits of the AMM audit commands: a connector from settings, table printing."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

from django.core.management.base import BaseCommand, CommandError

from amm.connector import ConnectorError, connector_from_settings


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n and c.lstrip("-").isdigit() else c.ljust(w)
                               for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class ReportCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=None, help="platform URL (default AMM_PLATFORM_BASE_URL)")
        parser.add_argument("--api-key", default=None, help="AMM API key (default AMM_PLATFORM_API_KEY)")

    def connector(self, options):
        overrides = {k: v for k, v in (("base_url", options.get("base_url")), ("api_key", options.get("api_key")))
                     if v}
        return connector_from_settings(**overrides)

    @staticmethod
    def parse_day(value: str | None) -> dt.date | None:
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from exc

    def run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConnectorError as exc:
            raise CommandError(f"platform: {exc}") from exc
