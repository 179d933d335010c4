"""Digests computed on the engine's buffers: BLAKE3 always, SHA-256/SHA-1/MD5 on request.

``blake3.blake3(max_threads=AUTO)`` hashes large updates on several threads and, like
hashlib for large inputs, releases the GIL, so each digest runs in its own pipeline
thread alongside the reads and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import blake3

from custodyd.daemon.errors import InvalidInput

EXTRA_ALGORITHMS = ("sha256", "sha1", "md5")


class Hasher(Protocol):
    def update(self, data: Any, /) -> Any: ...

    def hexdigest(self) -> str: ...


def new_blake3(*, threads: int = blake3.blake3.AUTO) -> Hasher:
    """BLAKE3; by default large updates are spread over every core."""
    return blake3.blake3(max_threads=threads)


def new_hasher(name: str) -> Hasher:
    if name == "blake3":
        return new_blake3()
    if name in EXTRA_ALGORITHMS:
        return hashlib.new(name)
    raise InvalidInput(f"unsupported hash {name!r}; choose from {', '.join(EXTRA_ALGORITHMS)}")


def parse_hashes(requested: Iterable[str] | str | None) -> list[str]:
    """Normalise ``--hash sha256,md5`` style input: lower-case, de-duplicated, validated.

    BLAKE3 is always computed, so naming it is accepted and ignored.
    """
    if requested is None:
        return []
    items: Sequence[str] = requested.split(",") if isinstance(requested, str) else list(requested)
    out: list[str] = []
    for raw in items:
        for part in raw.split(","):
            name = part.strip().lower().replace("-", "")
            if not name or name == "blake3" or name in out:
                continue
            if name not in EXTRA_ALGORITHMS:
                raise InvalidInput(
                    f"unsupported hash {part.strip()!r}; choose from {', '.join(EXTRA_ALGORITHMS)}"
                )
            out.append(name)
    return out
