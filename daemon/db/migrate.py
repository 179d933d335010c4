"""Run Alembic migrations programmatically (``alembic upgrade heads``).

Each domain keeps its own migration branch (``branch_labels``: core, ledger,
auth, orders, ...) so the parts of the schema evolve independently; ``heads``
brings every branch up to date.

Every process that opens the database calls :func:`migrate`, so the common case
— the schema is already current — must be cheap: importing Alembic and loading
every migration script costs a CLI command a few hundred milliseconds. The
revision graph is therefore read from the scripts' literal ``revision`` /
``down_revision`` / ``depends_on`` assignments, and Alembic runs only when the
database's ``alembic_version`` rows differ from the heads found that way (or the
scripts cannot be read so simply).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every branch. Idempotent."""
    heads = script_heads()
    if heads is not None and heads == database_revisions(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "heads")


def _names(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    return {str(v) for v in value}


def script_heads() -> frozenset[str] | None:
    """Revisions no other script builds on (what ``alembic_version`` holds when current).

    ``None`` when a script does not assign its revision ids as plain literals:
    then only Alembic itself can tell, and :func:`migrate` runs it.
    """
    revisions: set[str] = set()
    referenced: set[str] = set()
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        fields: dict[str, Any] = {}
        for node in ast.parse(script.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id in (
                    "revision",
                    "down_revision",
                    "depends_on",
                ):
                    try:
                        fields[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        return None
        if not isinstance(fields.get("revision"), str):
            return None
        revisions.add(fields["revision"])
        referenced |= _names(fields.get("down_revision")) | _names(fields.get("depends_on"))
    return frozenset(revisions - referenced)


def database_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions recorded in ``alembic_version``; ``None`` for a new database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return frozenset(str(r[0]) for r in rows)
