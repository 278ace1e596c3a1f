"""Report files: CSV and PFIF parsing and writing (pure functions: no app, no database)."""
from __future__ import annotations

import time
import zlib
from datetime import date

import pytest

from service.formats.pfif import parse_pfif, write_pfif
from service.formats.report_csv import parse_csv, write_csv
from service.formats.report_rows import MAX_BYTES, MAX_ROWS, FormatError, ParsedRow, detect_format


def _good(rows: list[ParsedRow]) -> list[dict]:
    return [row.fields for row in rows if row.error is None]


def _errors(rows: list[ParsedRow]) -> dict[int, str]:
    return {row.line: row.error for row in rows if row.error is not None}


FULL_ROW = {
    "name": "张三",
    "gender": "male",
    "birth_date": date(1950, 3, 4),
    "age_at_missing": 74,
    "missing_since": date(2024, 10, 1),
    "missing_place": "天津市河北区中山路",
    "hometown": "四川省南充市",
    "marks": "左手背有疤",
    "description": "患阿尔茨海默病,\n说四川话",
    "contact_name": "张小明",
    "contact_phone": "+86 138 0000 0000",
    "source": "family",
    "external_id": "portal.example/xq-0001",
    "extra": {
        "est_age_min": 70, "est_age_max": 80, "mental_state": "记忆力差", "dialect": "四川话",
        "clothing": "蓝色棉袄", "found_place": "天津西站", "height_cm": 168,
        "source_name": "全国救助寻亲网", "note_status": "believed_missing",
    },
    "photo_files": ["a.jpg", "b.jpg"],
}


# --- CSV reading ---

def test_utf8_csv_with_english_headers():
    data = (
        "external_id,name,gender,birth_date,age_at_missing,missing_since,missing_place,hometown,marks,"
        "description,contact_name,contact_phone,source,photo_files,est_age_min,est_age_max,mental_state,"
        "dialect,clothing,found_place,height_cm\n"
        "R-1,Li Si,female,1990-05-06,34,2024-12-01,Tianjin,Hebei,mole on chin,quiet,Li Wu,13800000000,"
        "police,li.jpg,30,40,calm,Hebei accent,red coat,Tianjin West,160\n"
    ).encode()
    [row] = list(parse_csv(data, {"li.jpg"}))
    assert row == ParsedRow(2, {
        "external_id": "R-1", "name": "Li Si", "gender": "female", "birth_date": date(1990, 5, 6),
        "age_at_missing": 34, "missing_since": date(2024, 12, 1), "missing_place": "Tianjin", "hometown": "Hebei",
        "marks": "mole on chin", "description": "quiet", "contact_name": "Li Wu", "contact_phone": "13800000000",
        "source": "police", "photo_files": ["li.jpg"],
        "extra": {"est_age_min": 30, "est_age_max": 40, "mental_state": "calm", "dialect": "Hebei accent",
                  "clothing": "red coat", "found_place": "Tianjin West", "height_cm": 160},
    }, None)


def test_gbk_csv_with_chinese_headers_and_chinese_dates():
    text = (
        "寻人编号,姓名,性别,出生日期,走失日期,走失地点,籍贯,体貌特征,情况描述,联系人,联系电话,来源,照片,"
        "估计年龄,精神状况,口音,衣着,发现地点,身高（cm）\n"
        "XQ-7,王芳,女,1960年2月3日,2026年1月31日,天津南站,河南省周口市,右耳缺损,智力障碍,王强,022-1234,家属,"
        "w1.jpg|w2.jpg,60-65岁,不清醒,河南口音,灰色外套,河东区,155\n"
        "XQ-8,赵六,男,1970/1/2,2026.1.31,,,,,,,,,约50岁,,,,,\n"
    )
    rows = list(parse_csv(text.encode("gbk"), {"w1.jpg", "w2.jpg"}))
    assert _errors(rows) == {}
    first, second = _good(rows)
    assert first["name"] == "王芳" and first["gender"] == "female" and first["source"] == "family"
    assert first["birth_date"] == date(1960, 2, 3) and first["missing_since"] == date(2026, 1, 31)
    assert first["external_id"] == "XQ-7" and first["hometown"] == "河南省周口市" and first["marks"] == "右耳缺损"
    assert first["photo_files"] == ["w1.jpg", "w2.jpg"]
    assert first["extra"] == {"est_age_min": 60, "est_age_max": 65, "mental_state": "不清醒", "dialect": "河南口音",
                              "clothing": "灰色外套", "found_place": "河东区", "height_cm": 155}
    assert second["birth_date"] == date(1970, 1, 2) and second["missing_since"] == date(2026, 1, 31)
    assert second["extra"] == {"est_age_min": 50, "est_age_max": 50}


def test_semicolon_csv_keeps_commas_inside_values():
    data = "姓名;性别;描述\n刘七;男;穿黑鞋, 戴帽子\n陈八;未知;说话不清, 左腿残疾\n".encode()
    rows = _good(list(parse_csv(data)))
    assert [(r["name"], r["gender"], r["description"]) for r in rows] == [
        ("刘七", "male", "穿黑鞋, 戴帽子"), ("陈八", "unknown", "说话不清, 左腿残疾")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_encodings(encoding):
    data = "姓名\t性别\t出生日期\n孙九\tM\t2001-1-9\n".encode(encoding)
    assert _good(list(parse_csv(data))) == [
        {"name": "孙九", "gender": "male", "birth_date": date(2001, 1, 9), "extra": {}, "photo_files": []}]


def test_title_row_above_the_header_and_header_decorations():
    data = "2026年寻人信息表,,\n姓名*,Birth Date,身高(厘米)\n周十,2000-01-01,170cm\n".encode()
    [row] = list(parse_csv(data))
    assert row.line == 3
    assert row.fields["name"] == "周十" and row.fields["extra"] == {"height_cm": 170}


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept():
    data = (
        "name,gender,birth_date,contact_phone,description\n"   # line 1
        "Good One,male,2000-01-01,123,\n"                        # 2
        "\n"                                                     # 3: skipped
        "Bad Date,female,2026-13-45,,\n"                         # 4
        "Good Two,F,,,\"two\nlines\"\n"                          # 5-6
        ",,,,\n"                                                 # 7: empty row of delimiters, skipped
        ",unknown,,12345,\n"                                     # 8: nothing to search with
        "Good Three,男,2000/2/29," + "9" * 41 + ",\n"            # 9: phone too long
        "Good Four,女,,,\n"                                      # 10
    ).encode()
    rows = list(parse_csv(data))
    assert [(r.line, r.fields["name"]) for r in rows if r.fields] == [(2, "Good One"), (5, "Good Two"),
                                                                     (10, "Good Four")]
    errors = _errors(rows)
    assert sorted(errors) == [4, 8, 9]
    assert errors[4].startswith("birth_date: not a date") and "2026-13-45" in errors[4]
    assert errors[8] == "empty report: no name, no photo and no description"
    assert errors[9] == "contact_phone: longer than 40 characters"


@pytest.mark.parametrize("header, value, reason", [
    ("gender", "robot", "gender: must be one of male, female, unknown"),
    ("missing_since", "2099-01-01", "missing_since: date is out of range"),
    ("age_at_missing", "abc", "age_at_missing: must be a whole number from 0 to 120"),
    ("估计年龄", "50-40", "est_age: must be a range within 0-120"),
    ("source", "rumour", "source: must be one of family, police, portal, import"),
    ("name", "名" * 81, "name: longer than 80 characters"),
    ("missing_place", "地" * 201, "missing_place: longer than 200 characters"),
    ("description", "x" * 4001, "description: longer than 4000 characters"),
    ("photo_files", "file:///etc/passwd", "photo_files: a photo must be a file in the zip or an http(s) URL"),
])
def test_field_errors_name_the_field_and_reason(header, value, reason):
    data = f"{header}\n{value}\n".encode()
    [row] = list(parse_csv(data))
    assert row.fields is None and row.error.startswith(reason)


def test_row_errors_are_collected_not_only_the_first():
    [row] = list(parse_csv(b"name,birth_date,missing_since,height_cm\nA,2000-01-01,1999-01-01,999\n"))
    assert row.error == "height_cm: must be a whole number from 30 to 250 (got '999'); missing_since: before birth_date"


def test_photo_names_missing_from_the_zip():
    data = "name,照片\nA,a.jpg\nB,b.jpg;missing.png\nC,folder/c.jpg\nD,https://portal.example/d.jpg\n".encode()
    rows = list(parse_csv(data, {"a.jpg", "b.jpg", "c.jpg"}))
    assert _errors(rows) == {3: "photo_files: not in the photo zip: missing.png"}
    by_name = {r["name"]: r for r in _good(rows)}
    assert by_name["A"]["photo_files"] == ["a.jpg"]
    assert by_name["C"]["photo_files"] == ["c.jpg"]  # a folder in the sheet, none in the zip: same file
    assert by_name["D"]["photo_files"] == [] and by_name["D"]["extra"] == {"photo_url": "https://portal.example/d.jpg"}
    # no zip at all: photo names are kept as given
    assert _good(list(parse_csv(data)))[1]["photo_files"] == ["b.jpg", "missing.png"]


def test_repeated_external_id_is_an_error():
    rows = list(parse_csv(b"external_id,name\nX1,A\nX2,B\nX1,C\n"))
    assert _errors(rows) == {4: "external_id: 'X1' repeats line 2"}


def test_ten_megabyte_field_is_a_row_error_not_a_crash():
    data = b"name,description\nA,short\nB," + b"x" * (10 * 1024 * 1024) + b"\nC,short\n"
    rows = list(parse_csv(data))
    assert [r.fields["name"] for r in rows if r.fields] == ["A", "C"]
    assert _errors(rows)[3].startswith("unreadable row: field larger than field limit")


def test_stray_quote_is_reported_on_its_row_not_glued_to_the_next_rows():
    rows = list(parse_csv(b'name,description\nA,"quoted"tail\nB,5" tall\nC,"never closed\nD,x\n'))
    assert _errors(rows) == {2: "unreadable row: ',' expected after '\"'", 4: "unreadable row: unexpected end of data"}
    assert _good(rows) == [{"name": "B", "description": '5" tall', "extra": {}, "photo_files": []}]


# --- CSV: whole-file refusals ---

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 13 + zlib.compress(b"pixels")


def test_png_given_as_csv_is_a_format_error():
    with pytest.raises(FormatError, match="PNG image, not a CSV"):
        parse_csv(PNG)
    with pytest.raises(FormatError, match="photo.png is a PNG image"):
        detect_format("photo.png", PNG)


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04\x14\x00\x00\x00rest-of-an-xlsx", "zip archive"),
    (b"some\x00binary\x00stuff", "binary file"),
    (b"\xff\xff\xff\xfe", "not CSV text"),
    ("序号,备注\n1,无\n".encode(), "no known column in the header"),
    (b"", "no known column in the header"),
])
def test_unreadable_csv_files(data, message):
    with pytest.raises(FormatError, match=message):
        parse_csv(data)


def test_size_and_row_limits():
    with pytest.raises(FormatError, match="larger than 20 MB"):
        parse_csv(b"name\n" + b"x" * MAX_BYTES)
    with pytest.raises(FormatError, match="more than 100000 rows"):
        parse_csv(b"name\n" + b"x\n" * (MAX_ROWS + 1))
    assert sum(1 for _ in parse_csv(b"name\n" + b"x\n" * MAX_ROWS)) == MAX_ROWS


# --- CSV writing ---

def test_csv_export_neutralises_formulas_and_round_trips():
    rows = [dict(FULL_ROW, name="=HYPERLINK(\"http://evil\")", marks="@SUM(1+1)", description="-2+3",
                 missing_place="+cmd")]
    data = write_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    for cell in ("'=HYPERLINK", "'@SUM(1+1)", "'-2+3", "'+cmd", "'+86 138"):
        assert cell in text
    for cell in ('",=', ",=", ",@", ",+", ",-"):  # no cell starts with a formula character
        assert cell not in text
    assert _good(list(parse_csv(data, {"a.jpg", "b.jpg"}))) == rows


def test_csv_round_trip_of_every_field():
    minimal = {"name": "无名氏", "extra": {}, "photo_files": []}
    with_url = {"description": "见照片", "extra": {"photo_url": "https://portal.example/p/1.jpg", "birth_year": 1949},
                "photo_files": []}
    data = write_csv([FULL_ROW, minimal, with_url])
    assert _good(list(parse_csv(data, {"a.jpg", "b.jpg"}))) == [FULL_ROW, minimal, with_url]


def test_csv_export_never_writes_id_numbers():
    row = dict(FULL_ROW, id_number="110101195003041234",
               extra=dict(FULL_ROW["extra"], id_number="110101195003041234"))
    data = write_csv([row], ["name", "id_number", "dialect"])
    assert b"110101" not in data and b"id_number" not in data
    assert data.decode("utf-8-sig").splitlines() == ["name,dialect", "张三,四川话"]


# --- PFIF ---

PFIF_14 = """<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4" xmlns:hj="https://huijia.example/pfif-ext/1">
  <pfif:person>
    <pfif:person_record_id>portal.example/person.1</pfif:person_record_id>
    <pfif:author_name>王强</pfif:author_name>
    <pfif:author_phone>13900000000</pfif:author_phone>
    <pfif:source_name>全国救助寻亲网</pfif:source_name>
    <pfif:given_name>芳</pfif:given_name>
    <pfif:family_name>王</pfif:family_name>
    <pfif:description>走失时穿灰色外套</pfif:description>
    <pfif:sex>female</pfif:sex>
    <pfif:date_of_birth>1960</pfif:date_of_birth>
    <pfif:age>60-70</pfif:age>
    <pfif:home_city>周口市</pfif:home_city>
    <pfif:home_state>河南省</pfif:home_state>
    <pfif:home_country>CN</pfif:home_country>
    <pfif:photo_url>photos/wang.jpg</pfif:photo_url>
    <hj:missing_since>2026-01-31</hj:missing_since>
    <hj:missing_place>天津南站</hj:missing_place>
    <hj:marks>右耳缺损</hj:marks>
    <hj:est_age_min>62</hj:est_age_min>
    <hj:mental_state>不清醒</hj:mental_state>
    <hj:dialect>河南口音</hj:dialect>
    <hj:clothing>灰色外套</hj:clothing>
    <hj:found_place>河东区</hj:found_place>
    <hj:height_cm>155</hj:height_cm>
    <hj:source>portal</hj:source>
    <pfif:note>
      <pfif:note_record_id>portal.example/note.1</pfif:note_record_id>
      <pfif:author_name>王强</pfif:author_name>
      <pfif:source_date>2026-02-01T00:00:00Z</pfif:source_date>
      <pfif:status>believed_missing</pfif:status>
      <pfif:text>still missing</pfif:text>
    </pfif:note>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>portal.example/person.2</pfif:person_record_id>
    <pfif:full_name>John Smith</pfif:full_name>
    <pfif:sex>other</pfif:sex>
    <pfif:date_of_birth>1980-07-08</pfif:date_of_birth>
    <pfif:age>45</pfif:age>
    <pfif:photo_url>https://portal.example/photo/2.jpg</pfif:photo_url>
  </pfif:person>
  <pfif:person>
    <pfif:person_record_id>portal.example/person.3</pfif:person_record_id>
    <pfif:full_name>Bad Date</pfif:full_name>
    <pfif:date_of_birth>08/07/1980</pfif:date_of_birth>
  </pfif:person>
  <pfif:note>
    <pfif:note_record_id>portal.example/note.2</pfif:note_record_id>
    <pfif:person_record_id>portal.example/person.2</pfif:person_record_id>
    <pfif:source_date>2026-03-01T00:00:00Z</pfif:source_date>
    <pfif:status>believed_alive</pfif:status>
  </pfif:note>
  <pfif:note>
    <pfif:note_record_id>portal.example/note.3</pfif:note_record_id>
    <pfif:person_record_id>portal.example/person.2</pfif:person_record_id>
    <pfif:source_date>2026-01-01T00:00:00Z</pfif:source_date>
    <pfif:status>information_sought</pfif:status>
  </pfif:note>
</pfif:pfif>
"""


def test_pfif_14_with_extension_fields():
    rows = list(parse_pfif(PFIF_14.encode(), {"wang.jpg"}))
    assert [row.line for row in rows] == [3, 36, 44]
    wang, smith = _good(rows)
    assert wang == {
        "external_id": "portal.example/person.1", "name": "王芳", "gender": "female",
        "hometown": "周口市, 河南省, CN", "description": "走失时穿灰色外套", "contact_name": "王强",
        "contact_phone": "13900000000", "missing_since": date(2026, 1, 31), "missing_place": "天津南站",
        "marks": "右耳缺损", "source": "portal", "photo_files": ["wang.jpg"],
        "extra": {"source_name": "全国救助寻亲网", "note_status": "believed_missing", "birth_year": 1960,
                  "est_age_min": 62, "est_age_max": 70, "mental_state": "不清醒", "dialect": "河南口音",
                  "clothing": "灰色外套", "found_place": "河东区", "height_cm": 155},
    }
    assert smith == {
        "external_id": "portal.example/person.2", "name": "John Smith", "gender": "unknown",
        "birth_date": date(1980, 7, 8), "age_at_missing": 45, "photo_files": [],
        "extra": {"note_status": "believed_alive", "photo_url": "https://portal.example/photo/2.jpg"},
    }
    assert _errors(rows)[44].startswith("birth_date: not a date")


def test_pfif_photo_file_not_in_the_zip_is_kept_as_url():
    [row] = _good(list(parse_pfif(PFIF_14.encode(), set())))[:1]
    assert row["photo_files"] == [] and row["extra"]["photo_url"] == "photos/wang.jpg"


def test_pfif_12_first_and_last_name():
    data = b"""<pfif xmlns="http://zesty.ca/pfif/1.2"><person>
      <person_record_id>old.example/1</person_record_id><first_name>Ann</first_name><last_name>Lee</last_name>
      </person></pfif>"""
    assert _good(list(parse_pfif(data))) == [
        {"external_id": "old.example/1", "name": "Ann Lee", "extra": {}, "photo_files": []}]


def test_pfif_round_trip():
    second = {"name": "Ann Lee", "gender": "female", "external_id": "x/2", "description": "a\r\nb & <c>",
              "extra": {"birth_year": 1949, "photo_url": "https://portal.example/p.jpg", "est_age_min": 70},
              "photo_files": []}
    parsed = _good(list(parse_pfif(write_pfif([FULL_ROW, second]), {"a.jpg", "b.jpg"})))
    assert parsed == [FULL_ROW, second]


def test_write_pfif_names_rows_without_external_id_and_drops_id_numbers():
    data = write_pfif([{"id": 7, "name": "A", "id_number": "110101195003041234",
                        "extra": {"id_number": "110101195003041234"}}], kind="case")
    assert b"110101" not in data and b"id_number" not in data
    assert _good(list(parse_pfif(data)))[0]["external_id"] == "huijia.example/case.7"
    with pytest.raises(ValueError):
        write_pfif([{"name": "no id"}])
    with pytest.raises(ValueError):
        write_pfif([], kind="person")


def test_pfif_declared_gbk():
    data = ('<?xml version="1.0" encoding="GBK"?><pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">'
            '<pfif:person><pfif:person_record_id>a/1</pfif:person_record_id>'
            '<pfif:full_name>李四</pfif:full_name></pfif:person></pfif:pfif>').encode("gbk")
    assert _good(list(parse_pfif(data)))[0]["name"] == "李四"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>
<pfif:person_record_id>x/1</pfif:person_record_id><pfif:full_name>&lol9;</pfif:full_name>
</pfif:person></pfif:pfif>
"""


def test_billion_laughs_is_refused_at_once():
    started = time.monotonic()
    with pytest.raises(FormatError, match="DTD or entities"):
        parse_pfif(BILLION_LAUGHS)
    assert time.monotonic() - started < 1


def test_external_entity_is_refused_without_reading_the_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in ("file:///etc/passwd", secret.as_uri()):
        data = f"""<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY x SYSTEM "{target}">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>
<pfif:person_record_id>x/1</pfif:person_record_id><pfif:full_name>&x;</pfif:full_name>
</pfif:person></pfif:pfif>""".encode()
        with pytest.raises(FormatError, match="DTD or entities") as caught:
            parse_pfif(data)
        assert "TOP-SECRET" not in str(caught.value) and "root:" not in str(caught.value)


@pytest.mark.parametrize("data, message", [
    (b"<pfif:pfif xmlns:pfif='http://zesty.ca/pfif/1.4'><pfif:person>", "not well-formed XML"),
    (b"<html><body>hi</body></html>", "not a PFIF 1.2-1.4 document"),
    (b"<pfif:pfif xmlns:pfif='http://example.com/other'/>", "not a PFIF 1.2-1.4 document"),
])
def test_unreadable_pfif_files(data, message):
    with pytest.raises(FormatError, match=message):
        parse_pfif(data)


# --- detection ---

@pytest.mark.parametrize("filename, data, expected", [
    ("reports.xml", PFIF_14.encode(), "pfif"),
    ("reports.csv", PFIF_14.encode(), "pfif"),           # content wins over the name
    ("upload", "\ufeff  <pfif:pfif/>".encode(), "pfif"),
    ("upload", "<?xml version='1.0'?><pfif/>".encode("utf-16"), "pfif"),
    ("reports.xml", "姓名,性别\n张三,男\n".encode("gbk"), "csv"),
    ("reports.csv", "姓名,性别\n张三,男\n".encode("utf-16"), "csv"),
])
def test_detect_format_by_content(filename, data, expected):
    assert detect_format(filename, data) == expected
