from exchange.management.commands._base import ExchangeCommand, cents
from exchange.services import account_withdraw, user_by_name


class Command(ExchangeCommand):
    help = "Withdraw CENTS from the platform user NAME's account (ledger WITHDRAWAL)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("cents", type=cents)

    def handle(self, *args, name, cents, **options):
        account = account_withdraw(user_id=str(user_by_name(name).id), amount_cents=cents, reference="exchange_withdraw")
        self.stdout.write(f"{name}: available {account.available_balance} frozen {account.frozen_balance}")
