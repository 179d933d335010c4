"""Evidence lists are selected in SQL by the domain (visible cases, status, time window,
any whole-image digest), the same for the CLI and the API, and paged without short pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.reads import EvidenceFilter, evidence_page, list_manifests
from custodyd.daemon.auth.roles import ADMIN, INVESTIGATOR
from custodyd.daemon.cases import get_or_create_case
from custodyd.daemon.clock import ManualClock
from custodyd.daemon.config import Settings
from custodyd.daemon.context import AppContext, open_context
from custodyd.daemon.models import Evidence

WINDOW_DIGEST = "cc" * 32  # a piecewise window's digest: recorded, but not of the image
ROWS = [
    # id, case, started, blake3 column, manifest hashes (+ other digests in the manifest)
    ("EV1", "C1", datetime(2026, 1, 1, 10, tzinfo=UTC), "AA" * 32, {"blake3": "AA" * 32}),
    ("EV2", "C2", datetime(2026, 1, 2, 10, tzinfo=UTC), "dd" * 32, {"sha256": "bb" * 32}),
    ("EV3", "C1", datetime(2026, 1, 3, 10, tzinfo=UTC), None, {}),
]


@pytest.fixture
def items(ctx: AppContext) -> None:
    add_items(ctx)


def add_items(ctx: AppContext) -> None:
    with ctx.session() as session:
        for evidence_id, ref, started, blake3, hashes in ROWS:
            case, _ = get_or_create_case(session, ctx.clock, ref)
            assert case.id is not None
            manifest = {
                "evidence_id": evidence_id,
                "case": ref,
                "started_at": started.isoformat(),
                "hashes": hashes,
                "piecewise": {"windows": [{"blake3": WINDOW_DIGEST}]},
            }
            session.add(
                Evidence(
                    id=evidence_id,
                    case_id=case.id,
                    status="sealed",
                    source_path="/dev/fake",
                    blake3=blake3,
                    directory=f"/nowhere/{evidence_id}",
                    image_path=f"/nowhere/{evidence_id}/image.raw",
                    manifest=manifest,
                    created_at=started,
                )
            )


ADMIN_P = Principal(actor="user:a", role=ADMIN)


def ids(ctx: AppContext, principal: Principal = ADMIN_P, **filters: Any) -> list[str]:
    return [m["evidence_id"] for m in list_manifests(ctx, principal, EvidenceFilter(**filters))]


@pytest.mark.usefixtures("items")
def test_time_window_digest_and_cases(ctx: AppContext) -> None:
    assert ids(ctx) == ["EV1", "EV2", "EV3"]
    day2 = datetime(2026, 1, 2, tzinfo=UTC)
    assert ids(ctx, since=day2) == ["EV2", "EV3"]  # inclusive
    assert ids(ctx, until=day2) == ["EV1"]  # exclusive
    assert ids(ctx, digest="aa" * 32) == ["EV1"]  # any whole-image digest, any case
    assert ids(ctx, digest="bb" * 32) == ["EV2"]  # a digest of the manifest's hashes
    assert ids(ctx, digest="dd" * 32) == ["EV2"]  # the sealed BLAKE3 column
    assert ids(ctx, digest=WINDOW_DIGEST) == []  # a window's digest is not the image's
    assert ids(ctx, digest="bb" * 32, until=day2) == []
    assert ids(ctx, status="incomplete") == []
    member = Principal(actor="user:i", role=INVESTIGATOR, case_refs=frozenset({"C1"}))
    assert ids(ctx, member) == ["EV1", "EV3"]
    assert ids(ctx, member, case="C2") == []
    assert ids(ctx, Principal(actor="user:n", role=INVESTIGATOR)) == []


@pytest.mark.usefixtures("items")
def test_pages_are_full_when_a_digest_selects(ctx: AppContext) -> None:
    flt = EvidenceFilter(digest=WINDOW_DIGEST)
    assert evidence_page(ctx, ADMIN_P, flt, offset=0, limit=1) == ([], None)
    page, nxt = evidence_page(ctx, ADMIN_P, EvidenceFilter(), offset=0, limit=2)
    assert [m["evidence_id"] for m in page] == ["EV1", "EV2"] and nxt == 2
    page, nxt = evidence_page(ctx, ADMIN_P, EvidenceFilter(), offset=2, limit=2)
    assert [m["evidence_id"] for m in page] == ["EV3"] and nxt is None


@pytest.mark.postgres
def test_digest_in_sql_on_postgres(
    settings: Settings, clock: ManualClock, fresh_postgres_url: str
) -> None:
    """The JSON path of the digest condition is dialect SQL: PostgreSQL's too."""
    ctx = open_context(settings.model_copy(update={"database_url": fresh_postgres_url}), clock)
    try:
        add_items(ctx)
        assert ids(ctx, digest="aa" * 32) == ["EV1"]
        assert ids(ctx, digest="bb" * 32) == ["EV2"]
        assert ids(ctx, digest="dd" * 32) == ["EV2"]
        assert ids(ctx, digest=WINDOW_DIGEST) == []
    finally:
        ctx.close()
