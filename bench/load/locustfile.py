"""Locust users of the load campaign (run by bench/load/run.py, which prepares everything they read).

Clerks register arrivals with a photo and look at the case they made; reviewers read the queues and
case lists; one supervisor runs a bulk import and follows its job. Tokens, photos and the import file
come from the directory named by HUIJIA_LOAD_DIR (tokens.json, photos/, import.csv, import.zip).
"""
from __future__ import annotations

import itertools
import json
import os
import random
import threading
from pathlib import Path

from locust import HttpUser, between, task

LOAD_DIR = Path(os.environ["HUIJIA_LOAD_DIR"])
TOKENS = json.loads((LOAD_DIR / "tokens.json").read_text())
PHOTOS = sorted((LOAD_DIR / "photos").glob("*.jpg"))
_lock = threading.Lock()
_next = {role: itertools.cycle(tokens) for role, tokens in TOKENS.items()}
_arrival = itertools.count(1)
# A clerk's pause between actions, seconds ("low,high"): 0.5-2 is a stress pace, far above a station's day.
THINK = tuple(float(x) for x in os.environ.get("HUIJIA_LOAD_THINK", "0.5,2").split(","))


def _token(role: str) -> dict:
    with _lock:
        return {"Authorization": f"Bearer {next(_next[role])}"}


class Clerk(HttpUser):
    """入站登记: one arrival with one photo, then the case page data the intake screen shows."""

    fixed_count = int(os.environ.get("HUIJIA_LOAD_CLERKS", "20"))
    wait_time = between(*THINK)

    def on_start(self):
        self.auth = _token("staff")
        self.cases: list[int] = []

    @task(4)
    def register(self):
        n = next(_arrival)
        photo = PHOTOS[n % len(PHOTOS)]
        with self.client.post("/api/v1/cases", name="POST /api/v1/cases", headers=self.auth, catch_response=True,
                              data={"name": f"负载{n}", "gender": random.choice(["male", "female", "unknown"]),
                                    "age_min": "30", "age_max": "45", "found_place": "天津西站"},
                              files=[("photos", (photo.name, photo.read_bytes(), "image/jpeg"))]) as resp:
            if resp.status_code == 201:
                self.cases.append(resp.json()["id"])
                resp.success()
            else:
                resp.failure(f"{resp.status_code} {resp.text[:200]}")

    @task(2)
    def look(self):
        if self.cases:
            self.client.get(f"/api/v1/cases/{random.choice(self.cases)}", name="GET /api/v1/cases/{id}", headers=self.auth)

    @task(1)
    def candidates(self):
        if self.cases:
            self.client.get(f"/api/v1/cases/{random.choice(self.cases)}/candidates",
                            name="GET /api/v1/cases/{id}/candidates", headers=self.auth)


class Reviewer(HttpUser):
    """待审核 and the lists: the review queue, the case list, overdue steps."""

    fixed_count = int(os.environ.get("HUIJIA_LOAD_REVIEWERS", "3"))
    wait_time = between(1.0, 3.0)

    def on_start(self):
        self.auth = _token("supervisor")

    @task(3)
    def review_queue(self):
        self.client.get("/api/v1/queues/review?per_page=50", name="GET /api/v1/queues/review", headers=self.auth)

    @task(3)
    def case_list(self):
        self.client.get(f"/api/v1/cases?page={random.randint(1, 3)}&per_page=50", name="GET /api/v1/cases",
                        headers=self.auth)

    @task(1)
    def overdue(self):
        self.client.get("/api/v1/queues/overdue", name="GET /api/v1/queues/overdue", headers=self.auth)


class Importer(HttpUser):
    """One supervisor: one bulk import (CSV + photo zip) at the start, then its progress."""

    fixed_count = 1
    wait_time = between(2.0, 2.0)

    def on_start(self):
        self.auth = _token("supervisor")
        self.job_id = None
        with self.client.post("/api/v1/reports/import", name="POST /api/v1/reports/import", headers=self.auth,
                              catch_response=True, files={
                                  "file": ("import.csv", (LOAD_DIR / "import.csv").read_bytes(), "text/csv"),
                                  "photos": ("import.zip", (LOAD_DIR / "import.zip").read_bytes(), "application/zip")}) as resp:
            if resp.status_code == 202:
                self.job_id = resp.json()["job_id"]
                (LOAD_DIR / "job_id").write_text(str(self.job_id))
                resp.success()
            else:
                resp.failure(f"{resp.status_code} {resp.text[:200]}")

    @task
    def progress(self):
        if self.job_id is not None:
            self.client.get(f"/api/v1/jobs/{self.job_id}", name="GET /api/v1/jobs/{id}", headers=self.auth)
