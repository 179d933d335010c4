"""Request size limit: bodies larger than the configured cap are refused with 413.

Pure ASGI so it sees the body before any parsing: a declared ``Content-Length``
over the cap is refused at once; a streamed body is counted and cut off when it
passes the cap.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodyd.api.problems import PROBLEM_JSON, problem


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, send, 400, "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await self._refuse(scope, send, 413, self._detail())
                    return
        seen = 0
        exceeded = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The framework may turn our exception into its own error response
            # (e.g. 400 "error parsing the body"): replace that with the 413.
            nonlocal refused
            if exceeded:
                if not refused:
                    refused = True
                    await self._refuse(scope, send, 413, self._detail())
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not refused:
                refused = True
                await self._refuse(scope, send, 413, self._detail())

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        slug, title = (
            ("too-large", "Request too large") if status == 413 else ("bad-request", "Bad request")
        )
        body: dict[str, Any] = problem(status, slug, title, detail, instance=scope.get("path"))
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(raw)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})
