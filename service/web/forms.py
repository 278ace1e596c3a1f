"""Helpers to read HTML form posts into the services' plain inputs."""
from __future__ import annotations

from flask import Request

from ..formats.fields import CASE_FIELDS
from ..services.intake import Upload


def case_fields_from_form(req: Request) -> dict:
    raw = {k: req.form.get(k, "") for k in CASE_FIELDS if k in req.form and k != "categories"}
    if "categories" in req.form or "categories_present" in req.form:
        raw["categories"] = req.form.getlist("categories")
    if req.form.get("state"):
        raw["state"] = req.form["state"]
    return raw


def uploads_from(req: Request, name: str = "photos") -> list[Upload]:
    uploads = []
    for storage in req.files.getlist(name):
        if storage is None or not storage.filename:
            continue
        uploads.append(Upload(filename=storage.filename, data=storage.read()))
    return uploads
