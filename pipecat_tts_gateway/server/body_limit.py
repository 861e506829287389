"""Reject request bodies over `server.max_body_bytes` before they are buffered or parsed.

The text limit alone would still let a client make the server read and JSON-parse an arbitrarily
large body before the length check fails. Starlette's own limiter answers in plain text, so this
one keeps the JSON error shape: a declared Content-Length over the limit is answered at once, and
a chunked body is counted as it arrives.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipecat_tts_gateway.server.errors import ErrorListener, error_response


class BodyTooLargeError(HTTPException):
    """Raised from `receive` mid-body; FastAPI re-raises HTTPExceptions from body reading."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`.

    Args:
        app: The app behind.
        max_bytes: Largest accepted body.
        on_error: Told of every rejection answered here (for /metrics).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, on_error: ErrorListener) -> None:
        self._app = app
        self._max = max_bytes
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            self._on_error(scope["path"], "body_too_large")
            error = BodyTooLargeError(self._max)
            await error_response(413, "body_too_large", error.detail)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max:
                raise BodyTooLargeError(self._max)
            return message

        await self._app(scope, counted, send)
