"""The ``custodyd`` console script: what runs before anything heavy is imported.

``custodyd verify EVIDENCE_ID`` is I/O bound (a whole image read from disk) but
spends ~0.6 CPU s importing the database layer before the database names the
file. :func:`main` therefore first starts a :class:`HeadStart` on the file the
store layout suggests, then runs the CLI; the verify command :func:`claim`s it.
The guess is only a guess: the verification uses the head start's digests only
for the very file the database names, unchanged (see
:mod:`custodyd.daemon.imaging.headstart`).

This module imports only the standard library at load time (no Typer, no
pydantic): its work must begin within milliseconds of the process's start.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from custodyd.daemon.home import config_file, default_home

# Not `typing.TYPE_CHECKING`: importing typing costs ~13 ms from a cold cache, before
# the first byte of the image is asked for (type checkers treat this name the same).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from custodyd.daemon.imaging.headstart import HeadStart

_head_starts: dict[str, HeadStart] = {}


def main() -> None:
    begin(sys.argv[1:])
    from custodyd.daemon.cli import run

    run()


def begin(argv: list[str]) -> None:
    """Start a head start for ``verify EVIDENCE_ID`` when the image is where the
    store layout puts it; nothing for any other command."""
    evidence_id = _verify_target(argv)
    if evidence_id is None:
        return
    path = _guess_image(evidence_id)
    if path is None:
        return
    from custodyd.daemon.imaging.headstart import HeadStart

    _head_starts[evidence_id] = HeadStart(path).start()


def claim(evidence_id: str) -> HeadStart | None:
    """The head start begun for ``evidence_id`` in this process, if any (once)."""
    return _head_starts.pop(evidence_id, None)


def _verify_target(argv: list[str]) -> str | None:
    if not argv or argv[0] != "verify":
        return None
    words = [a for a in argv[1:] if not a.startswith("-")]
    if len(words) != 1 or any(a in ("--help", "-h") for a in argv):
        return None
    return words[0] if re.fullmatch(r"[A-Za-z0-9_-]+", words[0]) else None


def _guess_image(evidence_id: str) -> Path | None:
    try:
        found = sorted(_store_dir().glob(f"*/{evidence_id}/image.raw"))
    except Exception:  # a guess: the real run reads the configuration and reports on it
        return None
    return found[0] if len(found) == 1 else None


def _store_dir() -> Path:
    """Where :class:`~custodyd.daemon.config.Settings` would put the evidence store
    (environment over the TOML file over the default), without importing pydantic."""
    config = _toml(config_file())
    store = os.environ.get("CUSTODYD_STORE_DIR") or config.get("store_dir")
    if store:
        return Path(str(store))
    home = os.environ.get("CUSTODYD_HOME") or config.get("home")
    return (Path(str(home)) if home else default_home()) / "evidence"


def _toml(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    import tomllib

    with open(path, "rb") as fh:
        return tomllib.load(fh)
