"""The gallery index: face embeddings searched top-k, a cache of the database refreshed incrementally.

No Flask, Celery or SQL here: the database layer supplies a loader (see cache.IndexCache).
"""
from .base import DIM, METRICS, GalleryIndex, Hit, Metric
from .cache import IndexCache, Loader, Row
from .exact import ExactIndex
from .factory import EXACT_LIMIT, load_index, make_index
from .ivf import IVFIndex, nlist_for, nprobe_for
from .numpy_index import NumpyIndex
from .owners import KINDS, Kind
from .shards import Shard, merge_topk, shard_of

__all__ = [
    "DIM",
    "EXACT_LIMIT",
    "KINDS",
    "METRICS",
    "ExactIndex",
    "GalleryIndex",
    "Hit",
    "IVFIndex",
    "IndexCache",
    "Kind",
    "Loader",
    "Metric",
    "NumpyIndex",
    "Row",
    "Shard",
    "load_index",
    "make_index",
    "merge_topk",
    "nlist_for",
    "nprobe_for",
    "shard_of",
]
