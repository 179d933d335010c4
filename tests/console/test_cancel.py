"""Cancelling an acquisition from its page: confirmation first (a page when there is no
script), then the API's cancel; only for roles and cases the API allows."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from custodyd.api.app import create_app
from custodyd.daemon.context import AppContext
from custodyd.daemon.errors import NotFound
from custodyd.daemon.service.queue import AcquisitionJob
from tests.api.conftest import MakeToken
from tests.console.conftest import csrf_of, secret, sign_in


class Jobs:
    """The slice of the acquisition queue the pages use, holding one running job."""

    def __init__(self, job: AcquisitionJob) -> None:
        self.job = job
        self.cancelled_by: str | None = None

    def list(self) -> list[AcquisitionJob]:
        return [self.job]

    def get(self, job_id: str) -> AcquisitionJob:
        if job_id != self.job.id:
            raise NotFound(f"no acquisition {job_id!r}")
        return self.job

    def cancel(self, job_id: str, *, actor: str) -> AcquisitionJob:
        self.cancelled_by = actor
        self.job.state, self.job.cancel_reason = "incomplete", "cancelled"
        return self.get(job_id)


def _app(ctx: AppContext, make_case: Any) -> tuple[TestClient, Jobs]:
    make_case("A")
    job = AcquisitionJob(
        id="job1",
        medium_key="loop:x",
        medium_id=1,
        source="/dev/loop9",
        case_ref="A",
        actor="token:ex",
        submitted_at=datetime.now(UTC),
        state="running",
        bytes_done=1 << 20,
        bytes_total=4 << 20,
    )
    jobs = Jobs(job)
    runtime = SimpleNamespace(acquisitions=jobs, ctx=ctx)
    return TestClient(create_app(ctx, runtime=runtime)), jobs


def test_cancel_asks_first_then_cancels_as_the_examiner(
    ctx: AppContext, make_case: Any, make_token: MakeToken
) -> None:
    client, jobs = _app(ctx, make_case)
    sign_in(client, secret(make_token("examiner", ["A"], name="ex")))
    page = client.get("/acquisitions/job1")
    assert page.status_code == 200 and "25 %" in page.text and "Cancel acquisition" in page.text
    csrf = csrf_of(page.text)
    ask = client.post("/acquisitions/job1/cancel", data={"csrf": csrf})
    assert ask.status_code == 200 and "Yes, cancel it" in ask.text
    assert jobs.cancelled_by is None and jobs.job.state == "running"
    done = client.post(
        "/acquisitions/job1/cancel",
        data={"csrf": csrf, "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and jobs.cancelled_by == "token:ex"
    assert "Cancel acquisition" not in client.get("/acquisitions/job1").text


def test_cancel_is_not_offered_nor_allowed_beyond_the_api_rules(
    ctx: AppContext, make_case: Any, make_token: MakeToken
) -> None:
    client, jobs = _app(ctx, make_case)
    sign_in(client, secret(make_token("investigator", ["A"], name="inv")))
    page = client.get("/acquisitions/job1")
    assert page.status_code == 200 and "Cancel acquisition" not in page.text
    r = client.post(
        "/acquisitions/job1/cancel", data={"csrf": csrf_of(page.text), "confirmed": "yes"}
    )
    assert r.status_code == 403 and jobs.cancelled_by is None
    make_case("B")
    other = TestClient(client.app)
    sign_in(other, secret(make_token("examiner", ["B"], name="ex-b")))
    assert other.get("/acquisitions/job1").status_code == 404
    assert "job1" not in other.get("/acquisitions").text
