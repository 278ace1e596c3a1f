"""Who owns each indexed face: face_id -> (kind, owner_id, station_id), kept in sorted numpy columns."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Kind = Literal["report", "case"]
# The position in this tuple is the code stored in the int8 column.
KINDS: tuple[Kind, ...] = ("report", "case")
NO_STATION = -1

# Columns grow by this factor so loading a large gallery in batches copies each row O(1) times.
GROWTH = 1.5


def kind_code(kind: str) -> int:
    """The int8 code of a kind; a ValueError for anything but 'report' or 'case'."""
    try:
        return KINDS.index(kind)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}") from None


class OwnerTable:
    """Owner columns sorted by face_id: ~25 bytes a face, where a dict of tuples costs ~200."""

    def __init__(self) -> None:
        self._n = 0
        self._face_ids = np.empty(0, np.int64)
        self._kinds = np.empty(0, np.int8)
        self._owner_ids = np.empty(0, np.int64)
        self._station_ids = np.empty(0, np.int64)

    def __len__(self) -> int:
        return self._n

    @property
    def face_ids(self) -> NDArray[np.int64]:
        return self._face_ids[: self._n]

    @property
    def kinds(self) -> NDArray[np.int8]:
        return self._kinds[: self._n]

    @property
    def owner_ids(self) -> NDArray[np.int64]:
        return self._owner_ids[: self._n]

    @property
    def station_ids(self) -> NDArray[np.int64]:
        return self._station_ids[: self._n]

    def nbytes(self) -> int:
        """Bytes allocated by the columns (capacity, not just rows in use)."""
        return sum(a.nbytes for a in (self._face_ids, self._kinds, self._owner_ids, self._station_ids))

    def contains(self, face_ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        known = self.face_ids
        pos = np.searchsorted(known, face_ids)
        hit = pos < self._n
        hit[hit] = known[pos[hit]] == face_ids[hit]
        return hit

    def positions(self, face_ids: NDArray[np.int64]) -> NDArray[np.intp]:
        """Row of each face_id; every id must be present."""
        pos = np.searchsorted(self.face_ids, face_ids)
        if pos.size and (pos.max() >= self._n or not np.array_equal(self.face_ids[pos], face_ids)):
            raise KeyError("face_id not in the owner table")
        return pos

    def ids_of_owner(self, code: int, owner_id: int) -> NDArray[np.int64]:
        mask = (self.kinds == code) & (self.owner_ids == owner_id)
        return self.face_ids[mask]

    def add(
        self,
        face_ids: NDArray[np.int64],
        kinds: NDArray[np.int8],
        owner_ids: NDArray[np.int64],
        station_ids: NDArray[np.int64],
    ) -> None:
        """Append rows whose face_ids are not present yet."""
        m = len(face_ids)
        if m == 0:
            return
        self._reserve(self._n + m)
        end = self._n + m
        for column, values in (
            (self._face_ids, face_ids),
            (self._kinds, kinds),
            (self._owner_ids, owner_ids),
            (self._station_ids, station_ids),
        ):
            column[self._n : end] = values
        in_order = bool(np.all(np.diff(face_ids) > 0)) and (self._n == 0 or face_ids[0] > self._face_ids[self._n - 1])
        self._n = end
        # The cache loads by ascending face_id, so the re-sort is the rare path.
        if not in_order:
            order = np.argsort(self.face_ids, kind="stable")
            for column in (self._face_ids, self._kinds, self._owner_ids, self._station_ids):
                column[:end] = column[:end][order]

    def remove(self, face_ids: NDArray[np.int64]) -> None:
        """Drop rows by face_id; ids not present are ignored."""
        keep = ~np.isin(self.face_ids, face_ids)
        kept = int(keep.sum())
        for column in (self._face_ids, self._kinds, self._owner_ids, self._station_ids):
            column[:kept] = column[: self._n][keep]
        self._n = kept

    def save(self, path: Path) -> None:
        np.savez(
            path,
            face_ids=self.face_ids,
            kinds=self.kinds,
            owner_ids=self.owner_ids,
            station_ids=self.station_ids,
        )

    @classmethod
    def load(cls, path: Path) -> OwnerTable:
        table = cls()
        with np.load(path) as data:
            table.add(
                data["face_ids"].astype(np.int64),
                data["kinds"].astype(np.int8),
                data["owner_ids"].astype(np.int64),
                data["station_ids"].astype(np.int64),
            )
        return table

    def _reserve(self, size: int) -> None:
        if size <= len(self._face_ids):
            return
        capacity = max(size, int(len(self._face_ids) * GROWTH))
        self._face_ids = _grown(self._face_ids, capacity, self._n)
        self._kinds = _grown(self._kinds, capacity, self._n)
        self._owner_ids = _grown(self._owner_ids, capacity, self._n)
        self._station_ids = _grown(self._station_ids, capacity, self._n)


def _grown(column: NDArray, capacity: int, used: int) -> NDArray:
    bigger = np.empty(capacity, column.dtype)
    bigger[:used] = column[:used]
    return bigger
