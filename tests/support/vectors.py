"""Find face-template-like vectors in stored data: windows of 128 or 512 numbers whose L2 norm is 1.

Bytes are read as float32 (and float64) at every alignment, text as its sequence of decimal numbers, so a
template stored plain as a bytea/BLOB, a JSON list or a text dump is found wherever it starts. Ciphertext
read as floats has norms near 1e19 and beyond, never 1.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

DIMS = (128, 512)
TOLERANCE = 1e-3
NUMBER = re.compile(rb"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Found:
    where: str
    encoding: str
    offset: int
    dim: int


def _unit_windows(values: np.ndarray, dims=DIMS) -> list[tuple[int, int]]:
    # A unit vector has no coordinate beyond 1: capping at 2 keeps every window that holds a larger (or
    # non-finite) value off 1, and keeps the running sum small enough for exact window differences.
    values = np.clip(np.where(np.isfinite(values), values, 2.0).astype(np.float64), -2.0, 2.0)
    squares = np.concatenate(([0.0], np.cumsum(values * values)))
    found = []
    for dim in dims:
        if len(values) < dim:
            continue
        norms = np.sqrt(np.maximum(squares[dim:] - squares[:-dim], 0.0))
        # A window of zeros (padding) or of one repeated value is not a template.
        hits = np.flatnonzero(np.abs(norms - 1.0) < TOLERANCE)
        for start in hits[:5]:
            window = values[start:start + dim]
            if np.count_nonzero(window) > dim // 2:
                found.append((int(start), dim))
    return found


def in_bytes(data: bytes, where: str = "") -> list[Found]:
    found = []
    for dtype, size in (("<f4", 4), ("<f8", 8)):
        for align in range(size):
            usable = (len(data) - align) // size * size
            if usable < size * min(DIMS):
                continue
            values = np.frombuffer(data, dtype=dtype, count=usable // size, offset=align)
            found += [Found(where, dtype, align + start * size, dim) for start, dim in _unit_windows(values)]
    return found


def in_text(text: str | bytes, where: str = "") -> list[Found]:
    raw = text.encode() if isinstance(text, str) else text
    numbers = np.array([float(m) for m in NUMBER.findall(raw)], dtype=np.float64)
    return [Found(where, "text", start, dim) for start, dim in _unit_windows(numbers)]


def in_value(value, where: str = "") -> list[Found]:
    """Anything a database column gives back."""
    if value is None or isinstance(value, (bool, int, float)):
        return []
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        return in_bytes(bytes(value), where) + in_text(bytes(value), where)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return in_text(text, where) + in_bytes(text.encode(), where)
