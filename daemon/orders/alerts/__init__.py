"""Expiry and deadline alerts, by mail and webhook, each sent exactly once.

``outbox`` decides which alerts are due (from the clock) and keeps them in the
``alert_outbox`` table; ``smtp`` and ``webhook`` deliver; ``compose`` writes the
messages. APScheduler only wakes :func:`check`; all state is in the database.
"""

from custodyd.daemon.orders.alerts.outbox import CheckReport, check, deliver_pending

__all__ = ["CheckReport", "check", "deliver_pending"]
