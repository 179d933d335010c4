"""Helpers shared by command modules: the context, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the context pulls in SQLAlchemy: imported when a command runs
    from custodyd.daemon.context import AppContext


def context() -> AppContext:
    from custodyd.daemon.context import open_context

    return open_context()


def _jsonable(obj: Any) -> Any:
    """Typed results (pydantic models) as the API shows them; anything else as text."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(obj)


def print_json(obj: Any) -> None:
    """Exactly one JSON document on stdout (machines parse it)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")
    sys.stdout.flush()
