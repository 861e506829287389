"""Optional API key: `Authorization: Bearer <key>` on everything but /health.

A middleware rather than a route dependency, so FastAPI's own routes (/openapi.json, /docs) are
covered too. /health stays open for load balancers and orchestrators that carry no secrets.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from pipecat_tts_gateway.server.errors import ErrorListener, error_response

OPEN_PATHS = frozenset({"/health"})


class ApiKeyMiddleware:
    """Reject requests without the configured bearer token with 401.

    Args:
        app: The app behind.
        api_key: The key; compared in constant time.
        on_error: Told of every rejection (for /metrics).
    """

    def __init__(self, app: ASGIApp, api_key: str, on_error: ErrorListener) -> None:
        self._app = app
        self._expected = f"Bearer {api_key}".encode()
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self._app(scope, receive, send)
            return
        self._on_error(scope["path"], "unauthorized")
        response = error_response(
            401,
            "unauthorized",
            "missing or invalid API key; send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given, self._expected)
