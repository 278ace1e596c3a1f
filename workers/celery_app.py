"""The worker entry point: builds the Flask app once and exposes `celery`.

    celery -A workers.celery_app worker      celery -A workers.celery_app beat
"""
from service import create_app
from service.extensions import celery

flask_app = create_app()

import workers.tasks  # noqa: E402,F401  (registers the tasks)

__all__ = ["celery", "flask_app"]
