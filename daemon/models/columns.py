"""Column helpers shared by the model modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field


def utc_datetime(*, nullable: bool = False, index: bool = False) -> Any:
    """A timezone-aware timestamp column (SQLite stores it naive; read back through clock.utc)."""
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable, index=index),
    )


def json_column(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON, nullable=nullable))


__all__ = ["datetime", "json_column", "utc_datetime"]
