"""Filters applied inside the faiss search (IDSelector), so a filtered top-k costs what an unfiltered one does.

Before: a filtered search fetched k * 4 hits and filtered them afterwards, widening x4 while some query was
short. A kind that is rare in a shard (earlier arrivals among gallery reports) then scanned the shard
several times: ~2 s a search. Now faiss skips what the filter rejects as it scans: the kind as a bitmap
over face_ids (one bit a face_id, kept up to date on add and remove), the excluded faces as a small batch.
"""
from __future__ import annotations

import faiss
import numpy as np
from numpy.typing import NDArray

from .owners import KINDS, OwnerTable


class KindBits:
    """For each kind asked for, a bitmap with bit face_id set when that face has this kind (built on first use)."""

    def __init__(self) -> None:
        self._bits: dict[int, NDArray[np.uint8]] = {}

    def of(self, code: int, owners: OwnerTable) -> NDArray[np.uint8]:
        bits = self._bits.get(code)
        if bits is None:
            bits = self._bits[code] = _set(np.zeros(0, np.uint8), owners.face_ids[owners.kinds == code])
        return bits

    def add(self, face_ids: NDArray[np.int64], codes: NDArray[np.int8]) -> None:
        for code in self._bits:
            # Replaced faces were removed first, so a face whose kind changed loses its old bit there.
            self._bits[code] = _set(self._bits[code], face_ids[codes == code])

    def remove(self, face_ids: NDArray[np.int64]) -> None:
        for bits in self._bits.values():
            ids = face_ids[(face_ids >> 3) < len(bits)]
            np.bitwise_and.at(bits, ids >> 3, ~(np.uint8(1) << (ids & 7).astype(np.uint8)))

    def clear(self) -> None:
        self._bits.clear()


def _set(bits: NDArray[np.uint8], face_ids: NDArray[np.int64]) -> NDArray[np.uint8]:
    if face_ids.size == 0:
        return bits
    need = int(face_ids.max() >> 3) + 1
    if need > len(bits):
        # Grown with headroom: new faces have the highest ids, and each growth copies the bitmap.
        grown = np.zeros(max(need, len(bits) + len(bits) // 2), np.uint8)
        grown[: len(bits)] = bits
        bits = grown
    np.bitwise_or.at(bits, face_ids >> 3, np.uint8(1) << (face_ids & 7).astype(np.uint8))
    return bits


class Selector:
    """A faiss IDSelector keeping kind `code` (None: any) minus `excluded`; holds what faiss only points to."""

    def __init__(self, bits: NDArray[np.uint8] | None, excluded: NDArray[np.int64]) -> None:
        self._keep: list = []
        sel = None
        if bits is not None:
            sel = self._hold(faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits)
        if excluded.size:
            ids = np.ascontiguousarray(excluded, np.int64)
            batch = self._hold(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)), ids)
            sel = self._hold(faiss.IDSelectorNot(batch)) if sel is None else self._hold(
                faiss.IDSelectorAnd(sel, self._hold(faiss.IDSelectorNot(batch))))
        self.sel = sel

    def _hold(self, obj, *refs):
        self._keep += [obj, *refs]
        return obj


__all__ = ["KINDS", "KindBits", "Selector"]
