from exchange.management.commands._base import ExchangeCommand, cents
from exchange.services import account_deposit, api_key_issue, user_get_or_create


class Command(ExchangeCommand):
    help = "Create (or find) a platform user with an account; optionally deposit; print a new API key last."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--deposit", type=cents, default=0, help="cents to deposit")
        parser.add_argument("--staff", action="store_true", help="may call staff operations of the API")
        parser.add_argument("--email", default="")

    def handle(self, *args, name, deposit, staff, email, **options):
        user, created = user_get_or_create(username=name, email=email, is_staff=staff)
        self.stderr.write(f"{'created' if created else 'found'} user {user.username} ({user.id})")
        if deposit:
            account = account_deposit(user_id=str(user.id), amount_cents=deposit, reference="exchange_user")
            self.stderr.write(f"deposited {deposit} cents; available {account.available_balance}")
        self.stdout.write(api_key_issue(user=user))
