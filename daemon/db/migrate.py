"""Run Alembic migrations programmatically (``alembic upgrade heads``).

Each domain keeps its own migration branch (``branch_labels``: core, ledger,
auth, orders, ...) so the parts of the schema evolve independently; ``heads``
brings every branch up to date.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every branch. Idempotent."""
    command.upgrade(alembic_config(engine), "heads")
