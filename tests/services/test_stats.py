"""Outcome statistics against numbers worked out by hand on a small, fully known station history."""
from __future__ import annotations

from datetime import date

import pytest

from service.domain.errors import InvalidValue
from service.services import stats
from tests.support.casefactory import bj, candidate, make_case, report

RANGE = stats.DateRange(date(2026, 3, 2), date(2026, 3, 15))  # Monday 2 March to Sunday 15 March (Beijing)
NOW = bj(2026, 3, 16, 12)


@pytest.fixture()
def history(db, stations, users):
    """The history the expectations below are computed from (station TJHX unless said).

    case  arrived          identified (channel)      exit (closed)
    A     03-02 10:00      03-04 10:00 interview      family_pickup 03-05     2.0 days
    B     03-03 08:00      03-08 08:00 portal         escorted_home 03-10     5.0 days (Sunday: week 1)
    K     03-05 06:00      03-06 18:00 (unrecorded)   - in hospital           1.5 days
    I     03-06 09:00      - (self-reported)          self_return 03-12       returns home, not identified
    C     03-09 12:00      03-10 00:00 dna            - in station            0.5 days
    D     03-10 09:00      03-20 09:00 face           family_pickup 03-21     identified after the range
    F     03-11 10:00      -                          - in station
    G     03-15 00:30      -                          - in station            last Beijing day of the range
    H     03-16 00:30      -                          - in station            the next Beijing day: outside
    E     02-20 20:00      03-12 20:00 face           transfer 03-14          20.0 days; arrived before the range
    J     TJNK 03-04       03-05 interview            family_pickup 03-06     another station
    """
    main, other = stations["main"], stations["other"]
    c = {}
    c["A"] = make_case(main, bj(2026, 3, 2, 10), identified=bj(2026, 3, 4, 10), channel="interview",
                       exit_type="family_pickup", closed=bj(2026, 3, 5, 9))
    c["B"] = make_case(main, bj(2026, 3, 3, 8), identified=bj(2026, 3, 8, 8), channel="portal",
                       exit_type="escorted_home", closed=bj(2026, 3, 10, 15))
    c["K"] = make_case(main, bj(2026, 3, 5, 6), identified=bj(2026, 3, 6, 18), channel=None, state="in_hospital")
    c["I"] = make_case(main, bj(2026, 3, 6, 9), name="王某", exit_type="self_return", closed=bj(2026, 3, 12, 9))
    c["C"] = make_case(main, bj(2026, 3, 9, 12), identified=bj(2026, 3, 10, 0), channel="dna")
    c["D"] = make_case(main, bj(2026, 3, 10, 9), identified=bj(2026, 3, 20, 9), channel="face",
                       exit_type="family_pickup", closed=bj(2026, 3, 21, 9))
    c["F"] = make_case(main, bj(2026, 3, 11, 10))
    c["G"] = make_case(main, bj(2026, 3, 15, 0, 30))
    c["H"] = make_case(main, bj(2026, 3, 16, 0, 30))
    c["E"] = make_case(main, bj(2026, 2, 20, 20), identified=bj(2026, 3, 12, 20), channel="face",
                       exit_type="transfer", closed=bj(2026, 3, 14, 10))
    c["J"] = make_case(other, bj(2026, 3, 4, 10), identified=bj(2026, 3, 5, 10), channel="interview",
                       exit_type="family_pickup", closed=bj(2026, 3, 6, 10))
    # Face candidates decided in the range: likely 3 confirmed + 1 rejected, possible 1 + 3; outside or
    # elsewhere: ignored; one possible still pending.
    for band, status, n in (("likely", "confirmed", 3), ("likely", "rejected", 1),
                            ("possible", "confirmed", 1), ("possible", "rejected", 3)):
        for i in range(n):
            candidate(c["F"], band, status, bj(2026, 3, 11 + i, 12), c["A"])
    candidate(c["F"], "likely", "confirmed", bj(2026, 3, 20, 12), c["A"])  # after the range
    candidate(c["F"], "possible", "pending", None, c["A"])
    candidate(c["J"], "likely", "rejected", bj(2026, 3, 11, 12), c["A"])  # another station
    # The gallery (shared by every station): 河南 ×3 (one found), 天津 ×1, 上海 ×1 (上海南站 is not 海南), unknown ×1.
    report(name="甲", hometown="河南省周口市", missing_place="天津站", status="open")
    report(name="乙", hometown="河南信阳", status="found")
    report(name="丙", hometown="河南", missing_place="河南郑州", status="open")
    report(name="丁", missing_place="上海南站", status="closed")
    report(name="戊", description="no place given", status="open")
    return c


def test_outcomes_by_hand(history, users):
    result = stats.outcomes(users["supervisor"], RANGE)
    # Cohort identified in the range at TJHX: A, B, K, C, E. Home since: A and B.
    assert result["identified"] == 5
    assert result["returned"] == 2
    assert result["return_rate_identified"] == 0.4
    # Days to identify: C 0.5, K 1.5, A 2.0, B 5.0, E 20.0 → median 2.0.
    assert result["median_days_to_identify"] == 2.0
    by_channel = {c["channel"]: (c["identified"], c["returned"]) for c in result["channels"]}
    assert by_channel == {"portal": (1, 1), "toutiao": (0, 0), "newspaper": (0, 0), "dna": (1, 0), "face": (1, 0),
                          "interview": (1, 1), "unrecorded": (1, 0)}


def test_weekly_series_use_beijing_days(history, users):
    supervisor = users["supervisor"]
    arrivals = stats.arrivals_per_week(supervisor, RANGE)
    # Week of 2 March: A, B, K, I. Week of 9 March: C, D, F, G (00:30 on the 15th, Beijing). H is the 16th.
    assert arrivals == {date(2026, 3, 2): 4, date(2026, 3, 9): 4}
    flows = stats.identified_returned_per_week(supervisor, RANGE)
    # Identified: A, K, B (Sunday the 8th) | C, E. Returned home: A | B, I (self return counts as home).
    assert flows == {date(2026, 3, 2): {"identified": 3, "returned": 1},
                     date(2026, 3, 9): {"identified": 2, "returned": 2}}


def test_stranded_histogram_of_open_cases(history, users):
    buckets = {b["bucket"]: b["count"] for b in stats.stranded_histogram(users["supervisor"], now=NOW)}
    # Open at noon on 16 March: G 1 day, H 0 → 0-1; F 5, C 7 → 2-7; K (in hospital) 11 → 11-30.
    assert buckets == {"0-1": 2, "2-7": 2, "8-10": 0, "11-30": 1, "31-90": 0, "91-365": 0, "366+": 0}


def test_face_precision_per_band(history, users):
    bands = {b["band"]: b for b in stats.face_precision(users["supervisor"], RANGE)}
    assert (bands["likely"]["confirmed"], bands["likely"]["rejected"], bands["likely"]["precision"]) == (3, 1, 0.75)
    assert (bands["possible"]["confirmed"], bands["possible"]["rejected"], bands["possible"]["precision"]) == (1, 3, 0.25)
    assert bands["possible"]["pending"] == 1 and bands["likely"]["pending"] == 0


def test_gallery_coverage_by_province(history, users):
    rows = stats.gallery_coverage(users["supervisor"])
    assert rows == [
        {"province": "河南", "reports": 3, "open": 2},
        {"province": "上海", "reports": 1, "open": 0},
        {"province": "天津", "reports": 1, "open": 1},
        {"province": "unknown", "reports": 1, "open": 1},
    ]


def test_admin_sees_every_station_or_one(history, users, stations):
    admin = users["admin"]
    everywhere = stats.outcomes(admin, RANGE)
    assert (everywhere["identified"], everywhere["returned"]) == (6, 3)  # + J at TJNK
    only_other = stats.summary(admin, RANGE, stations["other"].id, now=NOW)
    assert (only_other["identified"], only_other["returned"], only_other["arrivals"]) == (1, 1, 1)
    assert stats.face_precision(admin, RANGE, stations["other"].id)[0]["rejected"] == 1


def test_summary_carries_the_api_names(history, users):
    body = stats.summary(users["supervisor"], RANGE, now=NOW)
    assert body["from"] == "2026-03-02" and body["to"] == "2026-03-15"
    assert body["arrivals"] == 8 and body["returns_home"] == 3 and body["open_cases"] == 5
    assert body["decisive_channels"]["interview"] == 1 and body["decisive_channels"]["unrecorded"] == 1
    assert [w["week_start"] for w in body["weeks"]] == ["2026-03-02", "2026-03-09"]
    assert body["weeks"][1] == {"week_start": "2026-03-09", "arrivals": 4, "identified": 2, "returned": 2}


def test_nothing_identified_gives_no_rate(db, users):
    result = stats.outcomes(users["supervisor"], RANGE)
    assert result["identified"] == 0 and result["return_rate_identified"] is None
    assert result["median_days_to_identify"] is None


def test_parse_range():
    today = date(2026, 11, 23)
    assert stats.parse_range({}, today) == stats.DateRange(date(2026, 5, 26), today)
    assert stats.parse_range({"from": "2026-01-01", "to": "2026-01-31"}, today).end == date(2026, 1, 31)
    for bad in ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "yesterday"}, {"from": "2020-01-01"}):
        with pytest.raises(InvalidValue):
            stats.parse_range(bad, today)
    assert [d.isoformat() for d in stats.DateRange(date(2026, 3, 4), date(2026, 3, 16)).weeks()] == [
        "2026-03-02", "2026-03-09", "2026-03-16"]


def test_a_face_match_confirmed_after_an_interview_keeps_the_identification_date(db, stations, users):
    """Regression: confirming a gallery match on an identified case moved it out of its cohort (identified_at)."""
    from service.models import CandidateMatch, GalleryReport
    from service.services import review
    from tests.support.casefactory import bj, make_case

    case = make_case(stations["main"], bj(2026, 3, 2, 9), identified=bj(2026, 3, 3, 10), channel="interview")
    report = GalleryReport(name="张某", status="open", source="family")
    db.session.add(report)
    db.session.flush()
    row = CandidateMatch(pair_key=f"g:{case.id}:{report.id}", kind="gallery", case_id=case.id, report_id=report.id,
                         engine="sface-test", face_distance=0.3, score=0.9, band="likely", status="pending")
    db.session.add(row)
    db.session.commit()
    review.decide(users["staff"], row.id, "confirm", None)
    db.session.refresh(case)
    assert (case.identified_at, case.identified_by_channel, case.identified_by_report_id) == (
        bj(2026, 3, 3, 10), "interview", report.id)
    review.undo(users["supervisor"], row.id, "wrong person")
    db.session.refresh(case)
    assert (case.identity_status, case.identified_at, case.identified_by_channel) == (
        "confirmed", bj(2026, 3, 3, 10), "interview")  # the interview's identification stands
    assert case.identified_by_report_id is None


def test_calendar_edges_are_422_not_500(api, db):
    for query in ("to=9999-12-31", "from=0001-01-01&to=0001-01-03"):
        resp = api["supervisor"].get(f"/api/v1/stats?{query}")
        assert resp.status_code == 422 and resp.get_json()["error"]["field"] in ("from", "to"), query
