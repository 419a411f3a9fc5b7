"""The one exception family. Each domain names its codes in an Enum; the API renders them all
in one shape: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ChorusError(Exception):
    """Base for expected, user-facing failures. `status` is the HTTP status the API uses."""

    status: int = 400
    default_code: str = "error"

    def __init__(
        self, message: str, *, code: str | StrEnum | None = None, details: Any = None, status: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = str(code or self.default_code)
        self.details = details
        if status is not None:
            self.status = status


class ValidationFailed(ChorusError):
    status = 400
    default_code = "invalid"


class NotFound(ChorusError):
    status = 404
    default_code = "not_found"


class PermissionDenied(ChorusError):
    status = 403
    default_code = "permission_denied"


class Conflict(ChorusError):
    status = 409
    default_code = "conflict"


class QuotaExceeded(ChorusError):
    status = 402
    default_code = "quota_exceeded"
