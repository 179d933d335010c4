"""Alembic environment: uses the engine handed over by ``custodyd.daemon.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import custodyd.daemon.models  # noqa: F401  (registers every table on the metadata)

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
