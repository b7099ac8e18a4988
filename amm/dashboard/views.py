"""The dashboard page and its JSON data (thin: the selector decides what to show)."""
from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from amm.conf import amm_settings
from amm.dashboard.selectors import HISTORY_POINTS, dashboard_data

VIEW_PERMISSION = "amm.view_amminstance"


@require_GET
@never_cache
@staff_member_required  # anonymous: to the admin's login page
@permission_required(VIEW_PERMISSION, raise_exception=True)  # staff without it: 403
def dashboard_page(request):
    context = {
        **admin.site.each_context(request),
        "title": "AMM dashboard",
        "is_nav_sidebar_enabled": False,  # the table needs the width
        "refresh_ms": amm_settings.AMM_DASHBOARD_REFRESH_MS,
    }
    return render(request, "amm/dashboard.html", context)


def _json_permission(view):
    """A JSON 403 rather than a login page: the page's script asks, and tells the operator."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff):
            return JsonResponse({"detail": "Log in as staff to see the AMM dashboard."}, status=403)
        if not user.has_perm(VIEW_PERMISSION):
            return JsonResponse({"detail": f"Permission {VIEW_PERMISSION} required."}, status=403)
        return view(request, *args, **kwargs)
    return wrapper


@require_GET
@never_cache
@gzip_page  # the first answer carries an hour of history for every market
@_json_permission
def dashboard_data_view(request):
    """Every market's figures, attention first, with their history: the last hour thinned to
    HISTORY_POINTS per market, or with `?since=<unix s>` every sample after it (the page
    asks for the hour once, then for what is new)."""
    raw = request.GET.get("since", "")
    since = None
    if raw:
        if not raw.isdigit():
            return JsonResponse({"detail": "since must be a non-negative whole number of seconds."}, status=400)
        since = int(raw)
    points = HISTORY_POINTS if since is None else None
    return JsonResponse(dashboard_data(history_since_s=since, history_points=points))
