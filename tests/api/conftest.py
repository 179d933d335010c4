"""API fixtures: an app over the test context, a client, and tokens per role and case."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.auth import create_token_unrecorded
from custodyd.daemon.cases import create_case_unrecorded, find_case
from custodyd.daemon.context import AppContext
from custodyd.daemon.models import Evidence

MakeToken = Callable[..., dict[str, str]]


@pytest.fixture
def app(ctx: AppContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # Server errors must come back as responses (problem JSON), not be raised here.
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_token(ctx: AppContext) -> MakeToken:
    """``make_token(role, cases=(...))`` -> Authorization headers for a new token."""

    def make(role: str, cases: Sequence[str] = (), name: str | None = None) -> dict[str, str]:
        with ctx.session() as session:
            new = create_token_unrecorded(session, ctx.clock, role=role, cases=cases, name=name)
        return {"Authorization": f"Bearer {new.secret}"}

    return make


@pytest.fixture
def make_case(ctx: AppContext) -> Callable[[str], str]:
    def make(ref: str, title: str = "") -> str:
        with ctx.session() as session:
            create_case_unrecorded(session, ctx.clock, ref, title)
        return ref

    return make


@pytest.fixture
def admin(make_token: MakeToken) -> dict[str, str]:
    return make_token("admin", name="test-admin")


@pytest.fixture
def make_evidence(ctx: AppContext, make_case: Callable[[str], str]) -> Callable[..., str]:
    """An evidence row of case ``ref`` plus its ``evidence.acquired`` ledger entry.

    Test data standing in for what an acquisition leaves behind, so the API can be
    tested without imaging a medium; the end-to-end test uses the real acquisition.
    """

    def make(case_ref: str, evidence_id: str, status: str = "sealed") -> str:
        with ctx.session() as session:
            case = find_case(session, case_ref) or create_case_unrecorded(
                session, ctx.clock, case_ref
            )
            session.add(
                Evidence(
                    id=evidence_id,
                    case_id=case.id or 0,
                    status=status,
                    source_path="/dev/loop-test",
                    bytes=1024,
                    blake3="ab" * 32,
                    directory=str(ctx.settings.evidence_dir / evidence_id),
                    image_path=str(ctx.settings.evidence_dir / evidence_id / "image.raw"),
                    manifest={"evidence_id": evidence_id, "case": case_ref, "bytes": 1024},
                    created_at=ctx.clock.now(),
                )
            )
        ctx.ledger.append(
            "evidence.acquired",
            actor="system:custodyd",
            case=case_ref,
            evidence=evidence_id,
            payload={"blake3": "ab" * 32},
        )
        return evidence_id

    return make


@pytest.fixture
def acquired(ctx: AppContext, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Really acquire a small image file into ``case`` (the acquisition service)."""
    from custodyd.daemon.acquisition import acquire

    def make(case: str, size: int = 256 * 1024, seed: int = 1) -> dict[str, Any]:
        source = tmp_path / f"source-{case}-{seed}.raw"
        source.write_bytes(random.Random(seed).randbytes(size))
        return acquire(ctx, source, case, actor="user:examiner-e", hashes=["sha256"])

    return make
