"""Typed errors: every failure a caller can cause or meet has its own class.

The doors translate these into their own language (an HTTP 4xx with a JSON body, a Pipecat
ErrorFrame, a CLI message) without parsing strings, so the class, not the text, is the contract.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose.

    Attributes:
        code: A short machine-readable name, stable across releases (used in HTTP bodies).
    """

    code = "gateway_error"


class InvalidRequestError(GatewayError, ValueError):
    """The request itself is wrong: fixing the input fixes it."""

    code = "invalid_request"


class EmptyTextError(InvalidRequestError):
    """Text is empty, whitespace only, or has nothing speakable."""

    code = "empty_text"


class TextTooLongError(InvalidRequestError):
    """Text is longer than the configured limit."""

    code = "text_too_long"


class UnknownVoiceError(InvalidRequestError):
    """The voice (or a part of a blend) is not one any engine has."""

    code = "unknown_voice"


class UnknownProfileError(InvalidRequestError):
    """The named voice profile is not configured."""

    code = "unknown_profile"


class UnsupportedLanguageError(InvalidRequestError):
    """No engine is routed for the language."""

    code = "unsupported_language"


class InvalidSpeedError(InvalidRequestError):
    """Speed is outside 0.5-2.0 or not a number."""

    code = "invalid_speed"


class InvalidAudioFormatError(InvalidRequestError):
    """Output sample rate or encoding is not one the gateway produces."""

    code = "invalid_audio_format"


class ConfigError(GatewayError):
    """The configuration file or an environment override is invalid."""

    code = "config_error"


class ModelMissingError(GatewayError, FileNotFoundError):
    """A model file is absent; the message names the file and the command that fetches it."""

    code = "model_missing"

    def __init__(self, what: str, path: str) -> None:
        super().__init__(
            f"{what} not found: {path}. Run `tts-gateway models fetch` to download the models."
        )
        self.path = path


class ModelFetchError(GatewayError):
    """A model could not be fetched or failed its checksum."""

    code = "model_fetch_failed"


class EngineError(GatewayError):
    """An engine failed while synthesizing (after fallback, if any, was tried)."""

    code = "engine_error"


class NoEngineAvailableError(EngineError):
    """Every engine routed for a segment failed."""

    code = "no_engine_available"


class InvalidTextError(InvalidRequestError):
    """Text holds characters that cannot be spoken (control characters, invalid code points)."""

    code = "invalid_text"
