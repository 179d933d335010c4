"""What the ledger needs from the application around it, as protocols.

The ledger sits below the application context (:class:`custodyd.daemon.context.AppContext`
opens the ledger, not the other way round), so it names only the few things it uses
of its host instead of importing the context: that keeps the dependency one-way,
which ``.importlinter`` checks.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from custodyd.daemon.clock import Clock
    from custodyd.daemon.config import Settings
    from custodyd.daemon.ledger.service import Ledger


class LedgerHost(Protocol):
    """Settings (origin, key name, paths), the clock and the database engine."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def engine(self) -> Engine: ...


class StagingHost(LedgerHost, Protocol):
    """A host with transactional sessions and its ledger (for ``staged`` and the bench)."""

    def session(self) -> AbstractContextManager[Session]: ...

    @property
    def ledger(self) -> Ledger: ...
