"""The gallery index: face embeddings searched top-k, a cache of the database refreshed incrementally.

No Flask, Celery or SQL here: the database layer supplies a loader (see cache.IndexCache).
"""
from workers.index.base import DIM, METRICS, GalleryIndex, Hit, Metric
from workers.index.cache import IndexCache, Loader, Row
from workers.index.exact import ExactIndex
from workers.index.factory import EXACT_LIMIT, load_index, make_index
from workers.index.ivf import IVFIndex, nlist_for, nprobe_for
from workers.index.numpy_index import NumpyIndex
from workers.index.owners import KINDS, Kind
from workers.index.shards import Shard, merge_topk, shard_of

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
