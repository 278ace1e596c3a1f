"""Schemathesis against /api/v1/openapi.json, with a bearer token, on the real web process.

Checks: no 5xx (`not_a_server_error`), every status code answered is documented for the operation
(`status_code_conformance`), its content type is the documented one, and the body matches the
documented schema. Positive and negative data, bounded by examples per operation and a time budget.
The broker is a private Redis with no worker, so generated imports and re-matches go nowhere.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.services.users import issue_token
from tests.faults.servers import Stack, ThrowawayRedis, stack_env

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = int(os.environ.get("HUIJIA_FUZZ_EXAMPLES", "10"))
MAX_SECONDS = int(os.environ.get("HUIJIA_FUZZ_SECONDS", "45"))
SEED = 20261123


def _seed(api, settings, faces_dir) -> dict:
    """Real rows for the generated ids to hit now and then: cases, a report, processed photos and faces,
    a candidate match, an import job (matching runs in-process, as tests/api/test_gallery_api.py does)."""
    from service.models import CandidateMatch, Face, Job, Photo
    from service.matching import candidates, photos as pipeline

    def upload(identity, n):
        return (io.BytesIO((faces_dir / identity / f"{n}.jpg").read_bytes()), f"{identity}-{n}.jpg")

    sup = api["supervisor"]
    report = sup.post("/api/v1/reports", content_type="multipart/form-data", data={
        "name": "鲍某", "source": "family", "photos": [upload("Barack_Obama", 1)]}).get_json()["id"]
    case = sup.post("/api/v1/cases", content_type="multipart/form-data", data={
        "id_number": "11010519491231002X", "photos": [upload("Barack_Obama", 3)]}).get_json()["id"]
    sup.post("/api/v1/cases", json={"name": "模糊"})
    sup.post("/api/v1/reports/import", content_type="multipart/form-data",
             data={"file": (io.BytesIO("姓名,性别\n张三,男\n".encode()), "r.csv")})
    for photo_id in [p.id for p in Photo.query.filter_by(status="pending").order_by(Photo.id)]:
        pipeline.process_photo(photo_id, settings)
    candidates.match_report(report, settings)
    candidates.match_case(case, settings)
    faces = Face.query.all()
    return {
        "ids": sorted({1, 2, case, report, *(f.id for f in faces), *(c.id for c in CandidateMatch.query.all()),
                       *(j.id for j in Job.query.all()), *(p.id for p in Photo.query.all())}),
        "shas": sorted({p.sha256 for p in Photo.query.all()} | {f.crop_sha256 for f in faces if f.crop_sha256}),
    }


def _config(seeds: dict) -> str:
    """schemathesis.toml: generated path ids and hashes take a real value half of the time."""
    ids = ", ".join(str(i) for i in seeds["ids"])
    shas = ", ".join(f'"{s}"' for s in seeds["shas"])
    lines = [f"[dictionaries.ids]\nvalues = [{ids}]", f"[dictionaries.shas]\nvalues = [{shas}]", "[parameters]"]
    for name in ("case_id", "report_id", "photo_id", "face_id", "candidate_id", "job_id"):
        lines.append(f'"path.{name}" = {{ dictionary = "ids", probability = 0.5 }}')
    lines.append('"path.sha256" = { dictionary = "shas", probability = 0.5 }')
    return "\n".join(lines) + "\n"


@pytest.fixture()
def fuzz_target(test_env, tmp_path, api, settings, faces_dir, users, monkeypatch):
    from service.extensions import celery
    from service.matching import candidates

    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)  # seeding stays off the shared broker
    candidates.reset_indexes()
    seeds = _seed(api, settings, faces_dir)
    candidates.reset_indexes()
    (tmp_path / "schemathesis.toml").write_text(_config(seeds))
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    stack = Stack(stack_env(test_env, HUIJIA_BROKER_URL=redis.url), tmp_path)
    try:
        # No request-line limit: gunicorn would answer a long generated URL with its own 414 page before
        # the app sees it (as it does in production); here the app itself must cope with it.
        stack.start_web(1, 4, "--limit-request-line", "0", "--limit-request-field_size", "0")
        token, _ = issue_token(users["supervisor"], 1)
        yield stack, token
    finally:
        stack.stop()
        redis.stop()


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(fuzz_target, tmp_path):
    stack, token = fuzz_target
    st = Path(sys.executable).parent / "st"
    if not st.exists() and shutil.which("st") is None:
        pytest.skip("schemathesis is not installed (requirements-dev.txt)")
    report = tmp_path / "junit.xml"
    cmd = [
        str(st), "run", f"{stack.base}/api/v1/openapi.json",
        "-H", f"Authorization: Bearer {token}",
        "--checks", CHECKS,
        "--max-examples", str(MAX_EXAMPLES),
        "--max-time", str(MAX_SECONDS),
        "--seed", str(SEED),
        "--workers", "2",
        "--phases", "examples,coverage,fuzzing",
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--request-timeout", "30",
        # Ending its own token would turn every later call into a 401: revocation is tested on its own.
        "--exclude-path", "/api/v1/auth/revoke",
        # Its 503 is the documented verdict "the background work is not running" (no beat here), not a crash.
        "--exclude-path", "/readyz",
        "--report", "junit", "--report-junit-path", str(report),
        "--no-color",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_SECONDS + 240, cwd=tmp_path)
    output = done.stdout + done.stderr
    if os.environ.get("HUIJIA_FUZZ_OUT"):  # the whole report, for working through the findings
        Path(os.environ["HUIJIA_FUZZ_OUT"]).write_text(output + "\n--- web log\n" + stack.web.log.read_text(errors="replace"))
    summary = "\n".join(line for line in output.splitlines() if line.strip())[-6000:]
    assert done.returncode == 0, f"schemathesis found problems:\n{summary}\n--- web log\n{stack.web.tail(40)}"
    assert "Traceback" not in stack.web.log.read_text(errors="replace"), stack.web.tail(80)
    print(summary[-1500:])
