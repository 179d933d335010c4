"""Evidence lists are filtered by the domain (time window, any recorded digest), not the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custodyd.daemon import acquisition
from custodyd.daemon.auth.principal import Principal
from custodyd.daemon.auth.reads import list_manifests
from custodyd.daemon.auth.roles import ADMIN
from custodyd.daemon.context import AppContext

MANIFESTS = [
    {"evidence_id": "EV1", "started_at": "2026-01-01T10:00:00+00:00", "hashes": {"blake3": "AA"}},
    {"evidence_id": "EV2", "started_at": "2026-01-02T10:00:00+00:00", "hashes": {"sha256": "bb"}},
    {"evidence_id": "EV3", "started_at": None, "hashes": {}},
]


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(ctx: Any, case_ref: str | None = None, status: str | None = "sealed") -> list:
        return [dict(m) for m in MANIFESTS]

    monkeypatch.setattr(acquisition, "list_evidence", fake)


@pytest.mark.usefixtures("listed")
def test_time_window_and_digest(ctx: AppContext) -> None:
    admin = Principal(actor="user:a", role=ADMIN)

    def ids(**filters: Any) -> list[str]:
        return [m["evidence_id"] for m in list_manifests(ctx, admin, None, None, **filters)]

    assert ids() == ["EV1", "EV2", "EV3"]
    day2 = datetime(2026, 1, 2, tzinfo=UTC)
    assert ids(since=day2) == ["EV2"]  # inclusive; an item without a start time never matches
    assert ids(until=day2) == ["EV1"]  # exclusive
    assert ids(digest="aa") == ["EV1"]  # any recorded digest, case-insensitive
    assert ids(digest="bb", until=day2) == []
