"""Shared pieces of the AMM admin."""
from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the services only (audit): never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def actor(request) -> str:
    """Who did it, as the audit records name an admin user (CONTRACT: `admin:<username>`)."""
    return f"admin:{request.user.get_username()}"
