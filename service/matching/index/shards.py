"""Scale-out: each search worker holds the faces with face_id % count == index; results merge by distance."""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from .base import Hit


@dataclass(frozen=True, slots=True)
class Shard:
    """This worker's part of the gallery: shard `index` of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be in [0, {self.count}), got {self.index}")

    def owns(self, face_id: int) -> bool:
        return shard_of(face_id, self.count) == self.index


def shard_of(face_id: int, n_shards: int) -> int:
    return face_id % n_shards


def merge_topk(hit_lists: Iterable[list[Hit]], k: int) -> list[Hit]:
    """The k nearest of several shards' results, ordered as a single index orders them."""
    return heapq.nsmallest(k, chain.from_iterable(hit_lists), key=lambda hit: (hit.distance, hit.face_id))
