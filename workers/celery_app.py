"""The worker entry point: builds the Flask app once and exposes `celery`.

    celery -A workers.celery_app worker      celery -A workers.celery_app beat

A shard worker (`-Q search.<k>`, HUIJIA_SEARCH_SHARD=k) loads its part of the gallery as its pool
process starts, before the first search reaches it.
"""
from celery.signals import worker_process_init

from service import create_app
from service.extensions import celery

flask_app = create_app()

import workers.tasks  # noqa: E402,F401  (registers the tasks)


@worker_process_init.connect
def _preload_shard(**_kwargs) -> None:
    settings = flask_app.config["HUIJIA"]
    if settings.search_shard is not None and settings.search_shards > 1:
        from service.matching.scatter import preload_shard

        preload_shard(flask_app, settings.search_shard)


__all__ = ["celery", "flask_app"]
