"""Helpers shared by command modules: the context, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from typing import Any

from custodyd.daemon.context import AppContext, open_context


def context() -> AppContext:
    return open_context()


def print_json(obj: Any) -> None:
    """Exactly one JSON document on stdout (machines parse it)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
