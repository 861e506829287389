"""Optional API key: `Authorization: Bearer <key>` on everything but /health.

A middleware rather than a route dependency, so FastAPI's own routes (/openapi.json, /docs) and
the websocket handshake are covered too. /health stays open for load balancers and orchestrators
that carry no secrets.
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
        if (
            scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
            or self._authorized(scope)
        ):
            await self._app(scope, receive, send)
            return
        self._on_error(scope["path"], "unauthorized")
        response = error_response(
            401,
            "unauthorized",
            "missing or invalid API key; send 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            # A server without the denial-response extension can only refuse the handshake.
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)  # a websocket handshake gets the same 401

    def _authorized(self, scope: Scope) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given, self._expected)
