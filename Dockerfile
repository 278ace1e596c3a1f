# One image for web, worker and beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 fonts-noto-cjk curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --upgrade pip 'setuptools<82' wheel \
    && pip install -r requirements.txt \
    && pip install --no-deps -r requirements-nodeps.txt
COPY . .
RUN pybabel compile -d service/translations && useradd --system --uid 1000 huijia \
    && mkdir -p /data/media /data/instance && chown -R huijia /data
USER huijia
ENV HUIJIA_INSTANCE_DIR=/data/instance HUIJIA_MEDIA_DIR=/data/media HUIJIA_PORT=8000
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-", "service:create_app()"]
