"""`python manage.py amm_api_token USERNAME [--rotate]`: print the operator's token for the
monitoring API (`Authorization: Token <key>` under /api/amm/v1/), creating it if needed."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from amm.apis.base import VIEW_PERMISSION
from amm.exceptions import AMMError
from amm.services.api_tokens import api_token_issue


class Command(BaseCommand):
    help = "Print (create) a DRF token for a Django user of the AMM monitoring API; the key is the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="replace the user's token (the old key stops working)")

    def handle(self, *args, username: str, rotate: bool, **options):
        try:
            key, created = api_token_issue(username=username, rotate=rotate)
        except AMMError as exc:
            raise CommandError(exc.detail) from exc
        user = get_user_model().objects.get(**{get_user_model().USERNAME_FIELD: username})
        if not user.has_perm(VIEW_PERMISSION):
            self.stderr.write(f"note: {username} lacks {VIEW_PERMISSION}: the API will answer 403 until it is granted")
        self.stdout.write(f"token for {username} ({'new' if created else 'existing'}):")
        self.stdout.write(key)
