"""`manage.py amm_operator USERNAME`: give a person the AMM operator console login."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ammproject.env import env_str
from ammproject.security.operators import OPERATOR_GROUP, operator_ensure

PASSWORD_ENV = "AMM_OPERATOR_PASSWORD"


class Command(BaseCommand):
    help = (f"Create or update a staff login in the '{OPERATOR_GROUP}' group (view everything, run the AMM's "
            "actions, edit configs). A new login gets a generated password, printed once; an existing one keeps "
            "its password unless --new-password or --password-from-env.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-from-env", nargs="?", const=PASSWORD_ENV, metavar="VAR",
                            help=f"set the password read from environment variable VAR (default {PASSWORD_ENV}); "
                                 "never on the command line, where shell history and ps would keep it")
        parser.add_argument("--new-password", action="store_true", help="generate a new password and print it")

    def handle(self, *args, username, password_from_env, new_password, **options):
        password = None
        if password_from_env:
            password = env_str(password_from_env)
            if password is None:
                raise CommandError(f"--password-from-env: {password_from_env} is not set")
        try:
            login = operator_ensure(username=username, password=password, new_password=new_password)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        say = self.stdout.write
        say(f"operator {login.username}: {'created' if login.created else 'updated'}, staff, "
            f"in group '{OPERATOR_GROUP}'")
        if login.password is not None:
            say(f"password: {login.password}  (shown once; stored hashed)")
        elif password is not None:
            say(f"password: set from {password_from_env}")
        say("console: /admin/ and the dashboard /amm/dashboard/")
