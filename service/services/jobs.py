"""Long jobs with progress: bulk import of reports, re-matching everything. Resumable and idempotent."""
from __future__ import annotations

import hashlib
import io
import logging
import shutil
import zipfile
import zlib
from pathlib import Path

from sqlalchemy import select

from ..domain.errors import InvalidValue, NotFound
from ..extensions import db
from ..models import Case, GalleryReport, Job, User
from ..models.types import utcnow
from ..tasking import RUN_JOB, RUN_SEARCH_JOB, enqueue

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 200 * 1024 * 1024
PROGRESS_EVERY = 20
MAX_ERRORS_KEPT = 1000
MAX_ZIP_MEMBER = 20 * 1024 * 1024


def job_json(job: Job) -> dict:
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "done": job.done, "total": job.total,
        "created": job.created, "skipped": job.skipped, "errors": job.errors or [], "message": job.message,
    }


def get_job(actor: User, job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or (actor.role != "admin" and job.created_by_id != actor.id and not actor.has_role("supervisor")):
        raise NotFound(f"job {job_id} not found")
    return job


def _job_dir(settings, job_id: int) -> Path:
    return Path(settings.instance_dir) / "jobs" / str(job_id)


def start_import(actor: User, filename: str, data: bytes, photos_zip: bytes | None, settings) -> Job:
    """Keep the upload, create the job, queue it; rows are checked by the job itself."""
    from ..formats.pfif import parse_pfif
    from ..formats.report_csv import parse_csv
    from ..formats.report_rows import FormatError, detect_format

    if not data:
        raise InvalidValue("the import file is empty", "file")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidValue("the import file is larger than 200 MB", "file")
    try:
        fmt = detect_format(filename or "", data)
        # The whole-file checks (encoding, header, unsafe XML) run now, so such a file is a 422 here and
        # not a failed job later; the rows are read by the job.
        (parse_pfif if fmt == "pfif" else parse_csv)(data)
    except FormatError as exc:
        raise InvalidValue(str(exc), "file") from exc
    if photos_zip is not None and not zipfile.is_zipfile(io.BytesIO(photos_zip)):
        raise InvalidValue("photos must be a .zip file", "photos")
    job = Job(kind="import_reports", state="queued", created_by_id=actor.id,
              params={"format": fmt, "filename": (filename or "")[:200], "has_zip": photos_zip is not None},
              errors=[])
    db.session.add(job)
    db.session.flush()
    folder = _job_dir(settings, job.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input").write_bytes(data)
    if photos_zip is not None:
        (folder / "photos.zip").write_bytes(photos_zip)
    db.session.commit()
    enqueue(RUN_JOB, job.id)
    return job


def start_rematch(actor: User) -> Job:
    job = Job(kind="rematch", state="queued", created_by_id=actor.id, errors=[], params={})
    db.session.add(job)
    db.session.commit()
    enqueue(RUN_SEARCH_JOB, job.id)
    return job


def run(job_id: int, settings) -> str:
    job = db.session.scalar(select(Job).where(Job.id == job_id).with_for_update(skip_locked=True).execution_options(populate_existing=True))
    if job is None:
        db.session.rollback()
        return "skipped"
    if job.state in ("done", "failed"):
        db.session.rollback()
        return job.state
    job.state = "running"
    job.started_at = job.started_at or utcnow()
    db.session.commit()
    try:
        if job.kind == "import_reports":
            _run_import(job, settings)
        elif job.kind == "rematch":
            _run_rematch(job, settings)
        else:
            raise ValueError(f"unknown job kind {job.kind}")
    except (OSError, ValueError) as exc:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.state, job.message, job.finished_at = "failed", str(exc)[:500], utcnow()
        db.session.commit()
        log.warning("event=job_failed job_id=%s kind=%s error=%s", job_id, job.kind, type(exc).__name__)
        return "failed"
    job = db.session.get(Job, job_id)
    job.state, job.finished_at = "done", utcnow()
    db.session.commit()
    shutil.rmtree(_job_dir(settings, job_id), ignore_errors=True)
    return "done"


def _fingerprint(fields: dict) -> str:
    """A stable id for rows without one, so importing the same file twice creates nothing new."""
    key = "|".join(str(fields.get(k) or "") for k in ("name", "gender", "birth_date", "age_at_missing",
                                                      "missing_since", "missing_place", "contact_phone"))
    return "fp:" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _run_import(job: Job, settings) -> None:
    from .intake import Upload
    from ..media import PhotoRejected
    from ..formats.pfif import parse_pfif
    from ..formats.report_csv import parse_csv
    from ..formats.report_rows import FormatError
    from .reports import create_report

    folder = _job_dir(settings, job.id)
    data = (folder / "input").read_bytes()
    archive = zipfile.ZipFile(folder / "photos.zip") if (folder / "photos.zip").exists() else None
    names = {Path(n).name: n for n in archive.namelist() if not n.endswith("/")} if archive else {}
    parser = parse_pfif if job.params.get("format") == "pfif" else parse_csv
    actor = db.session.get(User, job.created_by_id)
    try:
        rows = list(parser(data, set(names)))
    except FormatError as exc:
        raise ValueError(str(exc)) from exc
    job.total = len(rows)
    errors = list(job.errors or [])
    start = job.done  # resume after a worker died mid-job; rows before `done` are committed
    for index, row in enumerate(rows[start:], start=start):
        if row.error:
            errors.append({"line": row.line, "error": row.error})
        else:
            fields = dict(row.fields)
            photo_files = fields.pop("photo_files", None) or []
            extra = fields.pop("extra", None) or None
            fields["source"] = fields.get("source") or "import"
            fields["external_id"] = fields.get("external_id") or _fingerprint(fields)
            try:
                uploads = []
                for name in photo_files:
                    member = names.get(Path(name).name)
                    if member is None:
                        raise InvalidValue(f"photo {name} is not in the zip", "photos")
                    if archive.getinfo(member).file_size > MAX_ZIP_MEMBER:
                        raise InvalidValue(f"photo {name} is larger than 20 MB", "photos")
                    uploads.append(Upload(name, archive.read(member)))
                result = create_report(actor, fields, uploads, settings, extra=extra)
                if result.created:
                    job.created += 1
                else:
                    job.skipped += 1
                db.session.commit()  # with the report: a later bad row's rollback must not undo the count
            except (InvalidValue, PhotoRejected) as exc:
                db.session.rollback()
                errors.append({"line": row.line, "error": f"{exc.field or ''}: {exc.message}".strip(": ")})
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
                # A damaged, lying (size/CRC), encrypted or oddly compressed zip member: this row's photo
                # is unreadable; the job goes on instead of dying with the job left `running`.
                db.session.rollback()
                errors.append({"line": row.line, "error": f"photos: a photo could not be read from the zip ({type(exc).__name__})"})
        job = db.session.get(Job, job.id)
        job.done = index + 1
        if len(errors) <= MAX_ERRORS_KEPT:
            job.errors = errors[:MAX_ERRORS_KEPT]
        if job.done % PROGRESS_EVERY == 0:
            db.session.commit()
    job.errors = errors[:MAX_ERRORS_KEPT]
    job.message = f"{job.created} created, {job.skipped} already present, {len(errors)} rows with errors"
    db.session.commit()


def _run_rematch(job: Job, settings) -> None:
    """Every open case against the gallery (after a threshold or engine change)."""
    from ..matching.candidates import match_case, match_report, rebuild_indexes

    rebuild_indexes()
    case_ids = db.session.scalars(select(Case.id).where(Case.state.not_in(("returned", "deceased"))).order_by(Case.id)).all()
    report_ids = db.session.scalars(select(GalleryReport.id).where(GalleryReport.status == "open").order_by(GalleryReport.id)).all()
    job.total = len(case_ids) + len(report_ids)
    db.session.commit()
    work = [("case", i) for i in case_ids] + [("report", i) for i in report_ids]
    for index, (kind, owner_id) in enumerate(work[job.done:], start=job.done):
        (match_case if kind == "case" else match_report)(owner_id, settings)
        job = db.session.get(Job, job.id)
        job.done = index + 1
        if job.done % PROGRESS_EVERY == 0:
            db.session.commit()
    db.session.commit()
