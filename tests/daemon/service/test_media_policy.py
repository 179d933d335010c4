"""The media policy as a pure function: every branch, no device, no root, no database."""

from __future__ import annotations

import pytest

from custodyd.daemon.service.media import decide


def _decide(**changes: object) -> tuple[str, str, str | None, str | None]:
    args: dict[str, object] = {
        "devnode": "/dev/sdx",
        "write_block": "kernel",
        "write_block_reason": "kernel read-only flag set",
        "ro_error": None,
        "auto_acquire": None,
        "at_startup": False,
        "seen_before": False,
    }
    args.update(changes)
    d = decide(**args)  # type: ignore[arg-type]
    return d.state, d.policy, d.refusal, d.resume


@pytest.mark.parametrize(
    ("changes", "state", "policy"),
    [
        ({}, "held", "hold"),
        ({"auto_acquire": "CASE-1"}, "queued", "auto"),
        ({"write_block": "hardware", "auto_acquire": "CASE-1"}, "queued", "auto"),
        # a hardware blocker stands in for a read-only flag that could not be set
        ({"write_block": "hardware", "ro_error": "BLKROSET failed"}, "held", "hold"),
        ({"write_block": "none", "auto_acquire": "CASE-1"}, "refused", "hold"),
        ({"ro_error": "BLKROSET failed", "auto_acquire": "CASE-1"}, "refused", "hold"),
        # known and present at start-up: no second acquisition behind the examiner's back
        ({"auto_acquire": "C", "at_startup": True, "seen_before": True}, "held", "hold"),
        ({"auto_acquire": "C", "at_startup": True}, "queued", "auto"),
        ({"auto_acquire": "C", "seen_before": True}, "queued", "auto"),
    ],
)
def test_state_and_policy(changes: dict[str, object], state: str, policy: str) -> None:
    got_state, got_policy, refusal, _ = _decide(**changes)
    assert (got_state, got_policy) == (state, policy)
    assert (refusal is not None) == (state == "refused")


def test_a_refusal_says_why() -> None:
    _, _, refusal, _ = _decide(write_block="none", write_block_reason="no write blocker known")
    assert refusal == (
        "/dev/sdx is not write-protected and could not be made read-only "
        "(no write blocker known); it will not be acquired"
    )
    _, _, refusal, _ = _decide(ro_error="BLKROSET failed: EPERM")
    assert refusal is not None and "(BLKROSET failed: EPERM)" in refusal


def test_what_happens_to_earlier_work() -> None:
    assert _decide()[3] is None  # never seen: nothing to say
    assert _decide(seen_before=True, at_startup=True)[3] == (
        "held: present when the daemon started; an examiner decides"
    )
    assert str(_decide(seen_before=True, auto_acquire="C")[3]).startswith("restart: ")
    assert _decide(seen_before=True)[3] == "held: an examiner decides"


def test_an_interrupted_item_of_the_medium_is_resumed_not_restarted() -> None:
    state, policy, _, resume = _decide(
        seen_before=True, auto_acquire="C", resumable="EV20261127-ABCDEF01"
    )
    assert (state, policy) == ("queued", "auto")
    assert resume == ("resume: EV20261127-ABCDEF01 continues from its rescue map, in the same item")
    # held media and media present at start-up are left to the examiner either way
    assert _decide(seen_before=True, resumable="EV1")[3] == "held: an examiner decides"
    assert str(_decide(seen_before=True, at_startup=True, resumable="EV1")[3]).startswith(
        "held: present"
    )
