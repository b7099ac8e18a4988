from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Reference platform"
    default_auto_field = "django.db.models.BigAutoField"
