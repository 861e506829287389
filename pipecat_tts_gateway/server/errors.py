"""One error shape for every HTTP failure: ``{"error": {"code": ..., "message": ...}}``.

Clients parse a single shape whether a failure came from FastAPI's body validation, a middleware,
or the gateway core (the openai library reads ``error.message`` from it too). Codes are the core's
stable ``GatewayError.code`` values wherever the core has one, so a 400 for ``speed: 7`` carries
the same ``invalid_speed`` whether pydantic or the router caught it. No traceback reaches a body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipecat_tts_gateway.errors import (
    EmptyTextError,
    GatewayError,
    InvalidAudioFormatError,
    InvalidRequestError,
    InvalidSpeedError,
    InvalidTextError,
    NoEngineAvailableError,
    TextTooLongError,
    UnknownProfileError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)

# Body field → the core's code for the same mistake (fields of both endpoints).
_FIELD_CODES: dict[str, str] = {
    "text": EmptyTextError.code,
    "input": EmptyTextError.code,
    "voice": UnknownVoiceError.code,
    "language": UnsupportedLanguageError.code,
    "profile": UnknownProfileError.code,
    "speed": InvalidSpeedError.code,
    "sample_rate": InvalidAudioFormatError.code,
    "format": InvalidAudioFormatError.code,
    "response_format": InvalidAudioFormatError.code,
    "stream_format": InvalidAudioFormatError.code,
}

# Pydantic error types that mean the same as a core error whatever the field.
_TYPE_CODES: dict[str, str] = {"string_unicode": InvalidTextError.code}

_HTTP_CODES: dict[int, str] = {
    400: "malformed_json",  # FastAPI's "error parsing the body", e.g. JSON that is not UTF-8
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}

# Called with (path, code) for every error response, so /metrics can count them.
ErrorListener = Callable[[str, str], None]


class ApiError(Exception):
    """A failure the HTTP door itself decides (authentication, content type, overload).

    Attributes:
        status: HTTP status.
        code: Machine-readable code.
        message: What went wrong and how to fix it.
        headers: Extra response headers (Retry-After, WWW-Authenticate).
    """

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one error body."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def gateway_error_response(exc: GatewayError, retry_after_s: int) -> JSONResponse:
    """Translate a core error: bad input is 4xx, an engine that cannot serve is 5xx."""
    headers: dict[str, str] = {}
    if isinstance(exc, TextTooLongError):
        status = 413
    elif isinstance(exc, InvalidRequestError):
        status = 400
    elif isinstance(exc, NoEngineAvailableError):
        status = 503
        headers["Retry-After"] = str(retry_after_s)
    else:
        status = 500
    return error_response(status, exc.code, str(exc), headers)


def validation_error(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(code, message) for a pydantic validation failure (an HTTP body, a websocket message);
    the first problem is reported."""
    error = errors[0]
    kind, loc = error.get("type", ""), tuple(error.get("loc", ()))
    if kind == "json_invalid":
        detail = error.get("ctx", {}).get("error", "invalid JSON")
        return "malformed_json", f"request body is not valid JSON: {detail}"
    field = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    if field == "body" or not field:
        if kind == "missing":
            return "invalid_request", "request body is required: a JSON object"
        return "invalid_request", "request body must be a JSON object"
    message = f"{field}: {error.get('msg', 'invalid value')}"
    if kind in ("literal_error", "enum"):
        message += f" (got {_short_repr(error.get('input'))})"
    code = _TYPE_CODES.get(kind) or _FIELD_CODES.get(field, "invalid_request")
    return code, message


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def install_error_handlers(app: FastAPI, on_error: ErrorListener, retry_after_s: int) -> None:
    """Route every failure, expected or not, through `error_response`."""

    def respond(request: Request, response: JSONResponse, code: str) -> JSONResponse:
        on_error(request.url.path, code)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_error(exc.errors())
        return respond(request, error_response(400, code, message), code)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(
            request, error_response(exc.status, exc.code, exc.message, exc.headers), exc.code
        )

    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return respond(request, gateway_error_response(exc, retry_after_s), exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail), exc.headers)
        return respond(request, response, code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error(
            "Unhandled error on {} {}", request.method, request.url.path
        )
        return respond(
            request,
            error_response(500, "internal_error", "internal server error"),
            "internal_error",
        )
