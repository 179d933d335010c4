"""Fixtures for orders: evidence rows, a real SMTP server (aiosmtpd), a real webhook receiver."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from custodyd.daemon.cases import get_or_create_case
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Evidence

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_evidence(
    ctx: AppContext, evidence_id: str, case_ref: str = "CASE-1", size: int = 64 * 1024
) -> Evidence:
    """A sealed evidence row with a real image file (and a copy) in a read-only directory."""
    directory = ctx.settings.evidence_dir / evidence_id
    directory.mkdir(parents=True)
    image = directory / "image.raw"
    image.write_bytes(bytes((i * 7 + len(evidence_id)) % 256 for i in range(size)))
    (directory / "image.copy.raw").write_bytes(image.read_bytes())
    (directory / "manifest.json").write_text(json.dumps({"evidence_id": evidence_id}))
    for path in directory.iterdir():
        path.chmod(0o444)
    directory.chmod(0o555)
    with ctx.session() as session:
        case, _ = get_or_create_case(session, ctx.clock, case_ref)
        assert case.id is not None
        item = Evidence(
            id=evidence_id,
            case_id=case.id,
            status="sealed",
            source_path="/dev/fake",
            bytes=size,
            directory=str(directory),
            image_path=str(image),
            manifest={"evidence_id": evidence_id},
            created_at=ctx.clock.now(),
            sealed_at=ctx.clock.now(),
        )
        session.add(item)
    return item


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(message_from_bytes(envelope.original_content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    """A real SMTP server on a free loopback port; yields (smtp_url, mailbox)."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.lock = threading.Lock()


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, Receiver]]:
    """A real HTTP receiver in a thread; ``fail_next`` answers 503 that many times first."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
                else:
                    receiver.requests.append((dict(self.headers.items()), body))
            self.send_response(503 if failing else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", receiver
    finally:
        server.shutdown()
        server.server_close()


def evidence_bytes(ctx: AppContext, evidence_id: str) -> dict[str, bytes]:
    directory = ctx.settings.evidence_dir / evidence_id
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir())}


# The fields art. 68(2)(a)-(g) requires of a request under an international regime.
REQUEST: dict[str, Any] = {
    "authority": "Prosecutor General of State A",
    "offence": "computer fraud",
    "summary": "payments diverted through a compromised mail account",
    "data_concerned": "mailbox and access logs of the account",
    "relation": "the logs show the diversions",
    "custodian": "Example Mail Ltd, data centre in this state",
    "necessity": "logs are purged after 90 days",
    "followup_announced": True,
}

REQUEST_FLAGS: list[str] = [
    "--authority",
    REQUEST["authority"],
    "--offence",
    REQUEST["offence"],
    "--summary",
    REQUEST["summary"],
    "--data",
    REQUEST["data_concerned"],
    "--relation",
    REQUEST["relation"],
    "--custodian",
    REQUEST["custodian"],
    "--necessity",
    REQUEST["necessity"],
    "--followup-announced",
]


def preserved_on(day: Any) -> dict[str, Any]:
    """A complete request issued, received and effected on ``day`` (the clock starts then)."""
    return {"issued_on": day, "received_on": day, "effected_on": day, **REQUEST}
