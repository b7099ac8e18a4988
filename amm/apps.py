from django.apps import AppConfig


class AmmConfig(AppConfig):
    name = "amm"
    verbose_name = "Automated market maker"
    default_auto_field = "django.db.models.BigAutoField"
