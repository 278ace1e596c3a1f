"""Domain rules: plain Python, no Flask, Celery or SQL."""
