"""Bind the Celery app to the Flask app: broker settings, reliability options, beat schedule."""
from __future__ import annotations

from pathlib import Path

from celery import Task



def broker_options(settings) -> dict:
    """Transport options: the filesystem broker needs its folders; Redis fails fast when down."""
    if settings.broker_url.startswith("filesystem"):
        folder = settings.instance_dir / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # Exchange tables; kombu's default is ./control relative to wherever the process runs.
            "control_folder": str(folder / "control"),
        }
    if settings.broker_url.startswith(("redis", "rediss")):
        # acks_late tasks come back after this long if a worker died holding them.
        return {"visibility_timeout": 600, "socket_connect_timeout": 2, "socket_timeout": 10}
    return {}


def init_celery(app, celery) -> None:
    settings = app.config["HUIJIA"]
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Tasks are idempotent: a message is acknowledged only after the work is committed,
        # and redelivered if the worker died holding it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        task_default_queue="default",
        task_routes={"workers.tasks.search_*": {"queue": "search"}},
        beat_schedule={
            "sweep-pending-photos": {"task": "workers.tasks.sweep_pending_photos", "schedule": float(settings.sweep_interval_seconds)},
            # The id watermark can miss a face committed late with a smaller id: rebuild hourly.
            "rebuild-gallery-index": {"task": "workers.tasks.search_rebuild_index", "schedule": 3600.0},
            "erase-biometrics": {"task": "workers.tasks.erase_biometrics", "schedule": 6 * 3600.0},
            "sweep-deadlines": {"task": "workers.tasks.sweep_deadlines", "schedule": 900.0},
        },
        beat_schedule_filename=str(Path(settings.instance_dir) / "celerybeat-schedule"),
        timezone="Asia/Shanghai",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )

    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery.Task = AppContextTask
    app.extensions["celery"] = celery
