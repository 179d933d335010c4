"""One name rule for case refs, user names, token names and order refs, on CLI and API.

A corpus of hostile names (directory names, path separators, terminal escapes,
bidi overrides, NUL, C1 controls, 10,000 characters) is refused everywhere with
exit 2 / HTTP 422, and no error message echoes more than 80 characters of it or
any raw control character.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import InvalidInput
from custodyd.daemon.names import BIDI_CONTROLS, MAX_LENGTH, check_name, echo, is_control
from tests.api.cli import run_cli
from tests.api.conftest import MakeToken

HOSTILE = [
    "",
    ".",
    "..",
    "a/b",
    "../../etc",
    "a\\b",
    "A\x1bB",
    "A\x1b[31mRED\x1b[0m",
    "A\x1b]8;;http://evil/\x07link",
    "A\nB",
    "A\rB",
    "A\tB",
    "A\x00B",
    "A\x7fB",
    "A\x85B",  # C1 NEL
    "A\x9bB",  # C1 CSI
    "A\u202eB",
    "A\u202aB",
    "A\u2066B",
    "A\u2069B",
    "x" * (MAX_LENGTH + 1),
    "x" * 10_000,
    " lead",
    "trail ",
]
ACCEPTED = ["CASE-2026-0001", "Fall Müller 2026", "a.b", "...x", "x" * MAX_LENGTH, "案件-7"]
MESSAGE_LIMIT = 300  # the longest kind-of-name prefix and reason plus the 80-character echo
BODY_LIMIT = 800  # a problem document: detail, a 200-character instance, an 80-character field


def _readable(text: str, limit: int = MESSAGE_LIMIT) -> bool:
    """No raw control or bidi character, and short."""
    return (
        len(text) <= limit
        and not any(is_control(c) and c != "\n" for c in text)
        and not any(c in BIDI_CONTROLS for c in text)
    )


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_validator_refuses(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_name(name, "case ref")
    assert _readable(caught.value.detail), caught.value.detail


@pytest.mark.parametrize("name", ACCEPTED)
def test_validator_accepts(name: str) -> None:
    assert check_name(name) == name


def test_echo_is_bounded_and_escaped() -> None:
    assert echo("A\x1bB") == "'A\\x1bB'"
    assert echo("A\u202eB") == "'A\\u202eB'"
    shown = echo("x" * 10_000)
    assert shown.startswith("'" + "x" * 80 + "'") and "10000 characters" in shown
    assert len(echo("\x1b" * 100)) < 120  # escapes count toward the 80


def _post_order(client: TestClient, headers: dict[str, str], ref: str) -> int:
    body = {"regime": "intl-expedited-60", "ref": ref, "issued_on": "2025-12-01", "case": "N"}
    body |= {  # what an international request must state (art. 68(2)): only the ref is at stake
        "authority": "Prosecutor, State A",
        "offence": "fraud",
        "summary": "transfers from the victim's account",
        "data_concerned": "the seized disk",
        "relation": "holds the transfer records",
        "custodian": "the lab",
        "necessity": "risk of loss",
        "followup_announced": True,
    }
    r = client.post("/v1/orders", json=body, headers=headers)
    assert r.status_code == 201 or _readable(r.text, BODY_LIMIT), r.text[:400]
    return r.status_code


def test_api_refuses_hostile_names(
    client: TestClient, admin: dict[str, str], make_token: MakeToken, make_case: Callable[..., str]
) -> None:
    make_case("N")
    compliance = make_token("compliance", ["N"])
    for name in HOSTILE:
        for path, body in (
            ("/v1/cases", {"ref": name}),
            ("/v1/users", {"name": name, "role": "examiner"}),
            ("/v1/tokens", {"role": "examiner", "name": name}),
        ):
            r = client.post(path, json=body, headers=admin)
            assert r.status_code == 422, (path, name, r.text[:200])
            assert r.json()["type"] == "urn:custodyd:problem:invalid-input"
            assert _readable(r.text, BODY_LIMIT), r.text[:400]
        assert _post_order(client, compliance, name) == 422, name
    assert _post_order(client, compliance, "MLA-2026-17") == 201
    cases = client.get("/v1/cases", headers=admin).json()["items"]
    assert [c["ref"] for c in cases] == ["N"]


def test_api_lookups_do_not_echo_hostile_names(client: TestClient, admin: dict[str, str]) -> None:
    for raw in ("x" * 10_000, "A\x1bB", "A\u202eB"):
        name = quote(raw, safe="")
        for path in (f"/v1/cases/{name}", f"/v1/evidence/{name}", f"/v1/cases/{name}/custody"):
            r = client.get(path, headers=admin)
            assert r.status_code == 404, path[:50]
            assert _readable(r.json()["detail"]), r.json()["detail"]
            assert _readable(r.text, BODY_LIMIT), r.text[:400]


def test_cli_refuses_hostile_names(home: Path, ctx: AppContext) -> None:
    for name in HOSTILE:
        for args in (
            ("cases", "create", name),
            ("users", "add", name, "--role", "examiner"),
            ("tokens", "create", "--role", "examiner", "--name", name),
            ("orders", "add", "--regime", "domestic-180", "--issued", "2025-12-01"),
        ):
            if args[0] == "orders":
                args = (*args, "--ref", name, "--case", "N")
            code, out, err = run_cli(*args)
            assert code == 2, (args, code, err[:300])
            assert "not allowed" in err or not name, err[:300]  # refused for the name itself
            assert out == ""
            assert _readable(err), err[:400]
    code, _, err = run_cli("cases", "list", "--json")
    assert code == 0
    assert ctx.ledger.size() == 0  # nothing was created, so nothing was recorded


CLI = [sys.executable, "-c", "from custodyd.daemon.cli import main; main()"]


@pytest.mark.parametrize("case", ["..", ".", "A\x1bB", "A\u202eB", "a/b"], ids=repr)
def test_image_with_hostile_case_exits_2_and_writes_nothing(
    home: Path, tmp_path: Path, case: str
) -> None:
    """Contract: ``custodyd image SRC --case ..`` (and ``$'A\\x1bB'``) exit 2, write nothing."""
    source = tmp_path / "src.raw"
    source.write_bytes(os.urandom(64 * 1024))
    before = sorted(p for p in tmp_path.rglob("*"))
    proc = subprocess.run(
        [*CLI, "image", str(source), "--case", case, "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert _readable(proc.stderr), proc.stderr
    after = sorted(p for p in tmp_path.rglob("*"))
    created = [p for p in after if p not in before]
    evidence = [p for p in created if p.is_file() and "evidence" in p.parts]
    assert not evidence, evidence
    assert not [p for p in created if p.parent in (tmp_path, home.parent) and p != home]
    assert not (home / "evidence").exists() or not any((home / "evidence").iterdir())
