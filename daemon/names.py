"""The one rule for names people choose: case refs, user names, token names, order refs.

These names become directory names in the evidence store (case refs), ledger
fields a court reads, table cells on a terminal and parts of URLs. So a name is
refused (:class:`InvalidInput`, CLI exit 2, HTTP 422) when it

- is empty, longer than :data:`MAX_LENGTH` characters, or has leading/trailing
  white space (``" A"`` and ``"A"`` would print alike);
- is ``.`` or ``..`` (as a directory: the store root or its parent);
- contains ``/`` or ``\\`` (a path separator on some system);
- contains a C0 or C1 control character or DEL (terminal escapes, line breaks,
  NUL), or a bidirectional control (U+202A-U+202E, U+2066-U+2069) that makes
  text display in another order than it is stored ("Trojan Source").

The error message quotes at most :data:`ECHO_LIMIT` characters of what was given,
with every control character escaped, so a hostile name can neither flood a log
nor drive the terminal that shows the error (:func:`echo`).
"""

from __future__ import annotations

from typing import Final

from custodyd.daemon.errors import InvalidInput

MAX_LENGTH: Final = 128
ECHO_LIMIT: Final = 80

BIDI_CONTROLS: Final = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
)
SEPARATORS: Final = frozenset("/\\")
DOT_NAMES: Final = frozenset({".", ".."})


def is_control(char: str) -> bool:
    """C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F)."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _unsafe(char: str) -> bool:
    return is_control(char) or char in BIDI_CONTROLS


def echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """``value`` fit to quote in a message: control and bidi characters escaped, cut.

    The quoted part holds at most ``limit`` characters (escapes such as ``\\x1b``
    count as what they print); a cut name ends in ``...`` and its full length.
    """
    out: list[str] = []
    used = 0
    cut = False
    for char in value:
        if _unsafe(char):
            piece = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
        elif char == "'":
            piece = "\\'"
        else:
            piece = char
        if used + len(piece) > limit:
            cut = True
            break
        out.append(piece)
        used += len(piece)
    suffix = f"... ({len(value)} characters)" if cut else ""
    return "'" + "".join(out) + "'" + suffix


def clip(value: str, limit: int = ECHO_LIMIT) -> str:
    """The first ``limit`` characters of ``value``, for a structured field of an error
    (JSON escapes control characters there; only the length needs bounding)."""
    return value[:limit]


def check_name(value: str, what: str = "name") -> str:
    """``value`` if it is an acceptable name, else :class:`InvalidInput` saying why.

    ``what`` names the kind of name in the message (``case ref``, ``user name``...).
    """
    reason = _problem(value)
    if reason is not None:
        raise InvalidInput(f"{what} {echo(value)} is not allowed: {reason}", field=what)
    return value


def _problem(value: str) -> str | None:
    if not isinstance(value, str) or not value:
        return "it is empty"
    if len(value) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if value != value.strip():
        return "it begins or ends with white space"
    if value in DOT_NAMES:
        return "'.' and '..' name directories"
    if any(c in SEPARATORS for c in value):
        return "it contains '/' or '\\'"
    if any(is_control(c) for c in value):
        return "it contains a control character"
    if any(c in BIDI_CONTROLS for c in value):
        return "it contains a bidirectional-text control character"
    return None
