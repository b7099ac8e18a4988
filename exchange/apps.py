from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Reference platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from exchange.checks import self_trade_exempt_users_check

        checks.register(self_trade_exempt_users_check)
