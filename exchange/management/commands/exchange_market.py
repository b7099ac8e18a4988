import datetime as dt

from django.core.management.base import CommandError

from exchange.management.commands._base import ExchangeCommand
from exchange.services import market_create, market_set_status


def iso(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Command(ExchangeCommand):
    help = "Create a market, or move one through its state machine (SETTLED settles, VOIDED refunds)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an ACTIVE market")
        create.add_argument("id")
        create.add_argument("--title", required=True)
        create.add_argument("--maker-bps", type=int, default=0)
        create.add_argument("--taker-bps", type=int, default=0)
        create.add_argument("--trading-end", type=iso)
        create.add_argument("--resolution", type=iso)
        status = sub.add_parser("status", help="change a market's status")
        status.add_argument("id")
        status.add_argument("status", choices=["ACTIVE", "SUSPENDED", "HALTED", "RESOLVED", "SETTLED", "VOIDED"])
        status.add_argument("--outcome", choices=["YES", "NO"])

    def handle(self, *args, action, **options):
        if action == "create":
            market = market_create(
                market_id=options["id"], title=options["title"], maker_fee_bps=options["maker_bps"],
                taker_fee_bps=options["taker_bps"], trading_end_at=options["trading_end"],
                resolution_date=options["resolution"],
            )
        else:
            market = market_set_status(
                market_id=options["id"], status=options["status"], outcome=options["outcome"], actor="exchange_market"
            )
        self.stdout.write(f"{market.id}: {market.status}" + (f" outcome {market.outcome}" if market.outcome else ""))
