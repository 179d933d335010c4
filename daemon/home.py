"""Where custodyd's data directory and configuration file are, without pydantic.

:mod:`custodyd.daemon.config` builds the settings from these; the console
script's entry point (:mod:`custodyd.daemon.entry`) reads them before any heavy
import.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("custodyd", appauthor=False))


def config_file() -> Path:
    """``$CUSTODYD_CONFIG``, else ``config.toml`` in ``$CUSTODYD_HOME`` (or the default home)."""
    explicit = os.environ.get("CUSTODYD_CONFIG")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("CUSTODYD_HOME") or default_home())
    return home / "config.toml"
