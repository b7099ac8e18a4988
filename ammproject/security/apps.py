from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SecurityConfig(AppConfig):
    name = "ammproject.security"
    label = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from django.contrib import admin
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from ammproject.security import signals
        from ammproject.security.forms import ThrottledAdminAuthenticationForm

        user_login_failed.connect(signals.login_failed, dispatch_uid="security.login_failed")
        user_logged_in.connect(signals.logged_in, dispatch_uid="security.logged_in")
        # Sent for each app after its migrations; this app is listed last, so by then the
        # permissions of amm and exchange exist and the group can be granted them.
        post_migrate.connect(signals.operator_group_after_migrate, sender=self,
                             dispatch_uid="security.operator_group")
        # The admin's login form says when a username is locked out (the backend refuses it).
        admin.site.login_form = ThrottledAdminAuthenticationForm
