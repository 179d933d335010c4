"""The contents of another state's preservation request (consolidated text art. 68(2)).

A request under an international regime must name: (a) the requesting
authority; (b) the offence and a brief summary of the facts; (c) the stored
data to be preserved and their relation to the offence; (d) what is known of
the custodian or location of the data; (e) why preservation is necessary;
(f) that a follow-up request (search, seizure or disclosure) will be sent;
(g) whether confidentiality is asked (a flag, always present). Information-
crimes draft art. 50(2) asks the same. Domestic orders are not held to this list.

Errors name the *fields* (domain vocabulary); the CLI maps them to its flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from custodyd.daemon.errors import InvalidInput

# field -> (letter of art. 68(2), what it is)
REQUIRED: dict[str, tuple[str, str]] = {
    "authority": ("a", "the authority seeking preservation"),
    "offence": ("b", "the offence under investigation"),
    "summary": ("b", "a brief summary of the related facts"),
    "data_concerned": ("c", "the stored data to be preserved"),
    "relation": ("c", "the relation of the data to the offence"),
    "custodian": ("d", "the custodian of the data or their location"),
    "necessity": ("e", "the necessity of the preservation"),
    "followup_announced": ("f", "that a request for search, seizure or disclosure will follow"),
}

CITATION = "consolidated text art. 68(2)(a)-(g); information-crimes draft art. 50(2)"


def missing_fields(values: Mapping[str, Any]) -> list[str]:
    """The required fields absent (None, blank, or False for the follow-up intent)."""
    out = []
    for name in REQUIRED:
        value = values.get(name)
        if value is None or value is False or (isinstance(value, str) and not value.strip()):
            out.append(name)
    return out


def require_request_fields(values: Mapping[str, Any], regime_id: str) -> None:
    """Raise :class:`InvalidInput` naming every missing field of art. 68(2)."""
    missing = missing_fields(values)
    if not missing:
        return
    named = "; ".join(f"{m} (68(2)({REQUIRED[m][0]}): {REQUIRED[m][1]})" for m in missing)
    raise InvalidInput(
        f"a request under the international regime {regime_id} must state: {named} ({CITATION})",
        fields=missing,
    )
