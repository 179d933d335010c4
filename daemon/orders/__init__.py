"""Preservation orders, retention, disposition, transfers, alerts and scheduled fixity.

What other domains use of it: :func:`retention_status` and :func:`assert_disposable`.
Domain code only; the CLI and the API translate.
"""

from custodyd.daemon.orders.retention import (
    RetentionStatus,
    assert_disposable,
    due_within,
    retention_status,
)

__all__ = ["RetentionStatus", "assert_disposable", "due_within", "retention_status"]
