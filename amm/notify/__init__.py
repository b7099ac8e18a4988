"""Alert notifications (issue 11): CRITICAL alerts POSTed to a webhook, off the caller's
thread (dispatch.py says why); the HTTP call in webhook.py."""
from amm.notify.dispatch import (  # noqa: F401
    AlertNotifier,
    Notification,
    alert_body,
    alert_notify,
    alert_notify_on_commit,
    alert_wanted,
    notifications_flush,
    notifier,
)
from amm.notify.webhook import WebhookOutcome, webhook_post  # noqa: F401
