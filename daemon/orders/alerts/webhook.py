"""Webhook delivery: a JSON POST signed with HMAC-SHA256, retried with backoff.

Headers: ``X-Custodyd-Event`` (the event name), ``X-Custodyd-Delivery`` (the outbox
id: the receiver's idempotency key), ``X-Custodyd-Signature: sha256=<hex>`` — the
HMAC-SHA256 of the exact body bytes with ``settings.webhook_secret`` (absent when
no secret is configured). A 2xx answer is a delivery; anything else is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

SIGNATURE_HEADER = "X-Custodyd-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    secret: str | None,
    event: str,
    delivery_id: str,
    backoff: Sequence[float] = (0.5, 2.0, 5.0),
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST once plus one retry per ``backoff`` delay. Returns the status; raises on failure."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "custodyd-alerts",
        "X-Custodyd-Event": event,
        "X-Custodyd-Delivery": delivery_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    last: Exception | None = None
    with httpx.Client(timeout=timeout) as client:
        for attempt, delay in enumerate([0.0, *backoff]):
            if attempt:
                sleep(delay)
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if 200 <= response.status_code < 300:
                return response.status_code
            last = RuntimeError(f"webhook answered HTTP {response.status_code}")
    raise RuntimeError(f"webhook delivery to {url} failed: {last}")
