"""Database access: engine creation (SQLite or PostgreSQL) and Alembic migrations."""

from custodyd.daemon.db.engine import make_engine, session_factory
from custodyd.daemon.db.migrate import migrate

__all__ = ["make_engine", "migrate", "session_factory"]
