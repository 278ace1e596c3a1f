"""Clues find families: description candidates from interviews, fused with faces; verified handovers,
follow-ups after a return, and the alert when someone sent home is back."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from service.domain import fusion
from service.domain.handover import HandoverNotVerified
from service.domain.errors import Forbidden
from service.matching import candidates as face_candidates
from service.models import CandidateMatch, Case, ClueKey, FollowUp, GalleryReport, ReArrivalAlert
from service.models.types import utcnow
from service.services import clues, family_search as search, followups, handover, review, stats
from service.services.exits import exit_case
from service.services.intake import register_arrival
from service.services.reports import create_report
from tests.support.casefactory import make_case

COLLECTOR = {"collector_name": "王德明", "collector_id_number": "11010519491231002X", "relation": "儿子"}
NOISE_NAMES = ("李桂英", "张建国", "刘淑珍", "陈志强", "杨凤英", "赵宝山", "黄金花", "周永福", "吴树林", "徐春梅")
NOISE_PLACES = ("河北省保定市", "山东省临沂市", "四川省南充市", "安徽省阜阳市", "河南省信阳市")


def _report(users, settings, **fields):
    fields.setdefault("gender", "female")
    return create_report(users["staff"], fields, [], settings).report


def _noise(users, settings, n=30):
    for i in range(n):
        _report(users, settings, name=NOISE_NAMES[i % len(NOISE_NAMES)], hometown=NOISE_PLACES[i % len(NOISE_PLACES)],
                age_at_missing=30 + i, missing_since="2023-05-01", gender="male" if i % 2 else "female")


def _interviewed_case(users, settings, **clue_fields):
    case = register_arrival(users["staff"], {"gender": "female", "age_min": "50", "age_max": "60",
                                             "marks": "左眉毛上一颗黑痣"}, [], settings).case
    fields = {"kind": "held", "notes": "自述老家在沈丘，说话带河南口音", "clue_names": ["秀银", "王德民"],
              "clue_places": ["周口 沈丘"], "dialect": "河南话", **clue_fields}
    search.log_step(users["staff"], case, "interview", "in_progress", fields)
    return case


def _true_report(users, settings, indexed=True):
    report = _report(users, settings, name="王秀英", hometown="河南省周口市沈丘县", age_at_missing=52,
                     missing_since=(date.today() - timedelta(days=400)).isoformat(), marks="左眉有痣",
                     contact_name="王德明", contact_phone="13900000000")
    if indexed:  # what the report's own task does first (propose_for_report reads it the same way)
        clues.refresh_profile("report", report.id, clues.report_clues(report))
        db_commit()
    return report


def db_commit():
    from service.extensions import db

    db.session.commit()


def _description_rows(case_id):
    return CandidateMatch.query.filter_by(case_id=case_id).order_by(CandidateMatch.score.desc()).all()


def test_interview_clues_propose_the_report_and_confirming_identifies_through_interviews(db, users, settings):
    _noise(users, settings)
    target = _true_report(users, settings)
    for report in GalleryReport.query.all():
        clues.propose_for_report(report.id)
    case = _interviewed_case(users, settings)
    result = clues.propose_for_case(case.id)
    assert result.get("new") == 1, result
    [row] = _description_rows(case.id)
    assert row.kind == "description" and row.report_id == target.id and row.band == "likely"
    assert row.face_distance is None and row.engine is None and row.description_score == row.score
    levels = {a["attr"]: a["level"] for a in row.evidence["agreement"]}
    assert levels["name"] == "given_only" and levels["relative"] == "sounds_alike" and levels["place"] == "county"
    assert levels["dialect"] == "agree" and levels["marks"] == "same_place"
    assert case.channels and {c.channel: c.status for c in case.channels}["interview"] == "lead"

    review.decide(users["staff"], row.id, "confirm", "电话核实：家属确认")
    db.session.refresh(case)
    assert case.identity_status == "confirmed" and case.identified_by_channel == "interview"
    assert db.session.get(GalleryReport, target.id).status == "found"
    assert {c.channel: c.status for c in case.channels}["interview"] == "confirmed"


def test_a_new_report_finds_the_case_waiting_and_a_no_stays_a_no(db, users, settings):
    case = _interviewed_case(users, settings)
    clues.propose_for_case(case.id)
    assert _description_rows(case.id) == []
    target = _true_report(users, settings, indexed=False)
    assert clues.propose_for_report(target.id).get("new") == 1
    [row] = _description_rows(case.id)
    review.decide(users["staff"], row.id, "reject", "家属说不是")
    assert {c.channel: c.status for c in db.session.get(Case, case.id).channels}["interview"] == "in_progress"
    # New clues, a re-run both ways: the rejected pair is never proposed again.
    search.log_step(users["staff"], db.session.get(Case, case.id), "interview", None,
                    {"kind": "held", "notes": "又说了一遍", "clue_names": ["王秀英"]})
    clues.propose_for_case(case.id)
    clues.propose_for_report(target.id)
    [again] = _description_rows(case.id)
    assert again.id == row.id and again.status == "rejected"


def test_an_unchanged_record_is_not_read_again_and_the_sweep_finds_changed_ones(db, users, settings):
    case = _interviewed_case(users, settings)
    report = _true_report(users, settings, indexed=False)
    case_ids, report_ids = clues.stale()
    assert case.id in case_ids and report.id in report_ids
    clues.propose_for_case(case.id)
    clues.propose_for_report(report.id)
    assert clues.stale() == ([], [])
    keys = {k.key for k in ClueKey.query.filter_by(owner_kind="case", owner_id=case.id)}
    assert {"p:411624", "r:wan-de-min", "g:xiu-yin", "n:xiu-yin"} <= keys
    search.log_step(users["staff"], db.session.get(Case, case.id), "interview", None,
                    {"kind": "held", "notes": "想起了村名", "clue_places": ["李庄村"]})
    assert clues.stale()[0] == [case.id]
    profile, changed = clues.refresh_profile("case", case.id, clues.case_clues(db.session.get(Case, case.id)))
    assert changed and ("李庄村", "li-zuan") in profile.localities


def test_a_face_match_and_a_description_match_of_one_pair_are_one_row_with_both_scores(db, users, settings):
    case = _interviewed_case(users, settings)
    report = _true_report(users, settings)
    assert clues.propose_for_case(case.id)["new"] == 1
    [row] = _description_rows(case.id)
    description_score = row.description_score
    # The face matcher now finds the same pair at a `possible` face distance.
    fused = fusion.Fused(0.6, "possible", (), ())
    best = face_candidates.Best(0.58, probe_face_id=None, other_face_id=None)
    assert face_candidates._upsert("gallery", case, best, fused, "sface-test", report=report) == "improved"
    db.session.commit()
    [row] = _description_rows(case.id)
    assert row.kind == "gallery" and row.face_distance == 0.58 and row.face_score == 0.6
    assert row.description_score == description_score and row.band == "likely"
    assert row.score == pytest.approx(1 - (1 - 0.6) * (1 - description_score), abs=1e-4)
    # Confirming a fused pair: face decided it (the decisive channel), the report is found.
    review.decide(users["staff"], row.id, "confirm", None)
    assert db.session.get(Case, case.id).identified_by_channel == "face"


def test_the_description_of_a_face_pair_found_first_is_fused_in(db, users, settings):
    case = _interviewed_case(users, settings)
    report = _true_report(users, settings)
    face_candidates._upsert("gallery", case, face_candidates.Best(0.6, None, None), fusion.Fused(0.55, "possible"),
                            "sface-test", report=report)
    db.session.commit()
    clues.propose_for_case(case.id)
    [row] = _description_rows(case.id)
    assert row.kind == "gallery" and row.face_score == 0.55 and row.description_band == "likely"
    assert row.band == "likely" and row.score > 0.55
    assert row.evidence["face_band"] == "possible" and row.description_evidence["agreement"]


def test_candidates_api_shows_description_candidates(db, users, settings, api):
    case = _interviewed_case(users, settings)
    _true_report(users, settings)
    clues.propose_for_case(case.id)
    [item] = api["staff"].get(f"/api/v1/cases/{case.id}/candidates").get_json()["items"]
    assert item["kind"] == "description" and item["face_distance"] is None and item["report_id"]
    assert item["description_score"] == item["score"]
    assert any(a["attr"] == "relative" for a in item["description_evidence"]["agreement"])


# ---------------------------------------------------------------- verification, follow-ups, re-arrival


def test_pickup_needs_a_verified_family_and_schedules_follow_ups(db, users, settings):
    case = make_case(users["staff"].station, utcnow() - timedelta(days=5), name="王秀英", age_min=50, age_max=55)
    with pytest.raises(HandoverNotVerified, match="no verification"):
        exit_case(users["staff"], case.id, "family_pickup", COLLECTOR)
    db.session.rollback()
    handover.record(users["staff"], case.id, {"evidence": ["police_hukou", "video_call"], "detail_police_hukou": "沈丘县公安局户籍科",
                                              "family_name": "王德明", "relation": "儿子"})
    assert handover.status(db.session.get(Case, case.id)) is None
    exit_case(users["staff"], case.id, "family_pickup", COLLECTOR)
    steps = {f.step: f.due_on for f in FollowUp.query.filter_by(case_id=case.id)}
    today = followups.local_date(utcnow())
    assert steps == {"1w": today + timedelta(days=7), "1m": today + timedelta(days=30), "3m": today + timedelta(days=91)}
    assert followups.worklist(users["staff"]) == []
    due = followups.worklist(users["staff"], today=today + timedelta(days=8))
    assert [(f.step, state) for f, state in due] == [("1w", "overdue")]
    followups.record_outcome(users["staff"], due[0][0].id, "settled_well", "老人在家，儿子照顾")
    assert followups.worklist(users["staff"], today=today + timedelta(days=8)) == []
    assert followups.worklist(users["other_staff"], today=today + timedelta(days=40)) == []  # another station's


def test_a_minors_handover_needs_strong_evidence_and_a_supervisor(db, users, settings):
    case = make_case(users["staff"].station, utcnow() - timedelta(days=2), age_min=12, age_max=13, categories=["minor"])
    case.identity_status = "confirmed"
    db.session.commit()
    from service.domain.handover import InvalidVerification

    with pytest.raises(InvalidVerification):
        handover.record(users["staff"], case.id, {"evidence": ["video_call"]})
    db.session.rollback()
    row = handover.record(users["staff"], case.id, {"evidence": ["dna_match", "family_photos"]})
    with pytest.raises(HandoverNotVerified, match="supervisor"):
        exit_case(users["staff"], case.id, "family_pickup", COLLECTOR)
    db.session.rollback()
    with pytest.raises(Forbidden):
        handover.approve(users["staff"], case.id, row.id)
    handover.approve(users["supervisor"], case.id, row.id)
    assert exit_case(users["staff"], case.id, "family_pickup", COLLECTOR).state == "returned"


def test_someone_sent_home_who_arrives_again_raises_an_alert(db, users, settings, stations):
    went_home = make_case(stations["other"], utcnow() - timedelta(days=60), name="赵宝山", exit_type="family_pickup",
                          closed=utcnow() - timedelta(days=40))
    again = make_case(stations["main"], utcnow() - timedelta(days=1), name="赵宝山")
    row = CandidateMatch(pair_key=f"a:{went_home.id}:{again.id}", kind="previous_arrival", case_id=again.id,
                         other_case_id=went_home.id, engine="test", face_distance=0.4, score=0.8, band="likely")
    db.session.add(row)
    db.session.commit()
    review.decide(users["staff"], row.id, "confirm", "同一人")
    [alert] = ReArrivalAlert.query.all()
    assert alert.case_id == again.id and alert.previous_station_id == stations["other"].id
    assert alert.returned_on == followups.local_date(went_home.closed_at)
    assert [a.id for a in followups.open_re_arrivals(users["supervisor"])] == [alert.id]
    rng = stats.parse_range({}, today=followups.local_date(utcnow()))
    assert stats.summary(users["supervisor"], rng)["re_arrivals"] == 1
    followups.acknowledge(users["supervisor"], alert.id)
    assert followups.open_re_arrivals(users["supervisor"]) == []


def test_an_earlier_stay_that_did_not_end_at_home_raises_nothing(db, users, stations):
    left = make_case(stations["main"], utcnow() - timedelta(days=60), exit_type="left_voluntarily",
                     closed=utcnow() - timedelta(days=50))
    again = make_case(stations["main"], utcnow() - timedelta(days=1))
    assert followups.alert_if_returned(again, left) is None
    assert db.session.scalar(select(ReArrivalAlert.id)) is None
