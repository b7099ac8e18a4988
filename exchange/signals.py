"""Platform signals (django-oscar habit: each app owns its signals)."""
from django.dispatch import Signal

# Sent after commit of every market status change: market_id, from_status, to_status, actor.
market_status_changed = Signal()
