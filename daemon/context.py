"""The application context: settings, database, clock and ledger, opened once.

The CLI, the daemon and the API each build one :class:`AppContext` and hand it
to the domain services; nothing else reads global state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session

from custodyd.daemon.clock import Clock, SystemClock
from custodyd.daemon.config import Settings
from custodyd.daemon.db import make_engine, migrate, session_factory

if TYPE_CHECKING:
    from custodyd.daemon.ledger import Ledger

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.db_url)

    @cached_property
    def _sessions(self) -> Callable[[], Session]:
        return session_factory(self.engine)  # type: ignore[return-value]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @cached_property
    def ledger(self) -> Ledger:
        from custodyd.daemon.ledger import Ledger

        return Ledger.open(self)

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()  # its own SQLite writer engine
        if "engine" in self.__dict__:
            self.engine.dispose()


def open_context(settings: Settings | None = None, clock: Clock | None = None) -> AppContext:
    """Create directories, migrate the database, settle what a crash left, return a context.

    Every command that opens the database comes through here, so acquisitions a dead
    process left unfinished are settled (sealed or incomplete) before anything reads
    them; live ones hold their lock and are left alone (``custodyd.daemon.recovery``).
    """
    from custodyd.daemon.recovery import recover_incomplete

    settings = settings or Settings()
    settings.ensure_dirs()
    ctx = AppContext(settings=settings, clock=clock or SystemClock())
    migrate(ctx.engine)
    if ctx.ledger.has_pending():  # a batch staged before a crash: land it before anything else
        from custodyd.daemon.errors import LedgerIntegrityError

        try:
            ctx.ledger.flush_pending()
        except LedgerIntegrityError as exc:
            # Refused (fork, forged row, no key): logged loudly by the ledger. Commands
            # that only read (and `ledger verify`, which reports it) still run; every
            # append keeps being refused with the same error.
            log.error("staged ledger entries not flushed: %s", exc.detail)
    recover_incomplete(ctx)
    return ctx
