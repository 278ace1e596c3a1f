"""Errors raised by the face engine; FaceError is the root."""
from __future__ import annotations


class FaceError(Exception):
    """Root of every error the face engine raises on purpose."""


class FaceImageError(FaceError, ValueError):
    """The bytes are not a usable photo; `reason_code` is stable and safe to store."""

    def __init__(self, reason_code: str, message: str):
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.message}"


class ModelFileError(FaceError, RuntimeError):
    """A model file is missing or is not the build the thresholds were calibrated on."""
