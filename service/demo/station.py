"""One demo station's history: arrivals in every state, their channel steps, exits, reports and candidates."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from ..domain.channels import CHANNELS
from ..domain.deadlines import CHINA_TZ
from ..domain.lifecycle import EXIT_RULES
from ..extensions import db
from ..models import CandidateMatch, Case, CaseEvent, ChannelEvent, FamilyContact, GalleryReport, SearchChannel, Station
from .people import (CLOTHING, DAYS, DECISIVE, ENGINE, GIVEN, HOME_SCRIPTS, MARKS, PLACES, SCRIPTED,
                     SURNAMES, Person, invent_person, weighted)
from .street import street_leads


class Builder:
    """Writes one station's history; every row is dated relative to `now`."""

    def __init__(self, station: Station, now: datetime, seed: int):
        self.station, self.now, self.rng = station, now, random.Random(seed)
        self.counts = {"cases": 0, "reports": 0, "channel_events": 0, "candidates": 0, "exits": 0}
        self.report_no = 0

    def street_leads(self, count: int) -> None:
        street_leads(self, count)

    # -- helpers
    def _at(self, base: datetime, hours: float) -> datetime | None:
        moment = base + timedelta(hours=hours)
        return moment if moment < self.now else None

    def _step(self, case: Case, channel: str, at: datetime | None, status: str, kind: str | None = None,
              note: str | None = None, **fields) -> bool:
        if at is None:
            return False
        row = next(c for c in case.channels if c.channel == channel)
        row.status = status
        data = {"kind": kind, **fields} if kind else None
        row.events.append(ChannelEvent(at=at, status=status, note=note, fields=data,
                                       reference=fields.get("post_id") or fields.get("sample_id")))
        self.counts["channel_events"] += 1
        return True

    def _report(self, person: Person | None = None, status: str = "open", **values) -> GalleryReport:
        rng = self.rng
        self.report_no += 1
        if person is None:
            person = invent_person(rng)
            person.name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        province, city, _dialect = person.home
        missing_years = rng.choice((0, 0, 1, 2, 3, 5, 8))
        missing = (self.now - timedelta(days=365 * missing_years + rng.randint(5, 300))).astimezone(CHINA_TZ).date()
        age_now = person.age_min if person.age_min is not None else rng.randint(25, 70)
        report = GalleryReport(
            status=status, source=rng.choice(("family", "family", "police", "portal")),
            external_id=f"demo/{self.station.code}/{self.report_no}", station_id=self.station.id,
            name=person.name, gender=person.gender, age_at_missing=max(1, age_now - missing_years),
            missing_since=missing, missing_place=f"{province}{city}" if rng.random() < 0.6 else rng.choice(PLACES),
            hometown=f"{province}省{city}市" if province not in ("天津", "内蒙古", "广西") else f"{province}{city}",
            marks=rng.choice(MARKS), description="家属登记：走失时" + rng.choice(CLOTHING),
            contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN), contact_phone=f"139{rng.randint(10000000, 99999999)}",
            matching_status="done", extra={"dialect": person.home[2]} if rng.random() < 0.5 else None,
            **values,
        )
        db.session.add(report)
        self.counts["reports"] += 1
        return report

    # -- one case
    def case(self, index: int) -> None:
        rng, now = self.rng, self.now
        script = SCRIPTED.get(index)
        days_ago = rng.uniform(0.2, DAYS) if index % 5 else rng.uniform(0.2, 21)  # more recent arrivals
        if script:
            days_ago = rng.uniform(script[1], min(script[1] + 30, DAYS))
        arrived = now - timedelta(days=days_ago)
        person = invent_person(rng, script[2] if script else None)
        if script and script[0] == "self_return":  # only for someone who can travel alone
            person.categories = [c for c in person.categories if c not in ("mental_illness", "intellectual_disability")]
        province, city, dialect = person.home
        minor = "minor" in person.categories
        # Sick or mentally ill people go to hospital first (DOMAIN.md §Intake).
        sick = "ill" in person.categories or ("mental_illness" in person.categories and rng.random() < 0.3)
        state = "in_hospital" if (sick and rng.random() < 0.7) or (script and script[0] == "in_hospital") else "in_station"
        case = Case(
            station_id=self.station.id, state=state,
            identity_status="self_reported" if person.name else "unknown",
            arrived_at=arrived, created_at=arrived, idempotency_key=f"demo:{self.station.code}:{index}",
            name=person.name, gender=person.gender, age_min=person.age_min, age_max=person.age_max,
            hometown_hint=f"{province}{city}" if person.name and rng.random() < 0.7 else None,
            found_at=arrived - timedelta(hours=rng.uniform(0.5, 6)), found_place=rng.choice(PLACES),
            referral=rng.choice(("police", "police", "patrol", "urban_management", "citizen", "hospital", "self")),
            dialect=dialect if rng.random() < 0.8 else None, clothing=rng.choice(CLOTHING), marks=rng.choice(MARKS),
            height_cm=rng.randint(120, 150) if minor else rng.randint(150, 182),
            categories=person.categories, is_minor=minor, matching_status="done",
            can_travel_alone=not ({"mental_illness", "intellectual_disability"} & set(person.categories)),
        )
        case.channels = [SearchChannel(channel=c, status="not_started") for c in CHANNELS]
        db.session.add(case)
        db.session.flush()
        case.case_no = f"{self.station.code}-{arrived.astimezone(CHINA_TZ):%Y%m%d}-{case.id:06d}"
        case.events.append(CaseEvent(kind="registered", at=arrived, data={"photos": 0, "state": state}))
        self.counts["cases"] += 1

        # When (if ever) the identity is confirmed, and through which channel.
        impaired = bool({"mental_illness", "intellectual_disability"} & set(person.categories))
        chance = 0.45 if impaired else 0.72
        identify_after = rng.expovariate(1 / (14 if impaired else 6)) + rng.uniform(0.2, 1.5)
        identified_at = arrived + timedelta(days=identify_after) if rng.random() < chance and not script else None
        if script and script[0] in HOME_SCRIPTS:
            identified_at = arrived + timedelta(days=rng.uniform(1, 4))
        if identified_at and identified_at >= now:
            identified_at = None
        decisive = weighted(rng, DECISIVE) if identified_at else None
        end = identified_at or now

        # The routine steps of the five channels plus interviews, some late or missed on purpose.
        diligent = rng.random() < 0.8
        if minor:
            case.events.append(CaseEvent(kind="notice_approved", at=arrived + timedelta(hours=rng.uniform(2, 20))))
        self._step(case, "face", self._at(arrived, rng.uniform(0.2, 2)), "in_progress", "run", engine=ENGINE,
                   candidates=rng.randint(0, 3))
        post_at = self._at(arrived, rng.uniform(3, 20) if diligent else rng.uniform(26, 60))
        if post_at and post_at < end:
            self._step(case, "portal", post_at, "in_progress", "posted", post_id=f"XQ{case.id:06d}")
            refresh = self._at(post_at, rng.uniform(25, 30) * 24 if diligent else rng.uniform(35, 50) * 24)
            while refresh and refresh < end:  # notices refreshed monthly while the person is unidentified
                self._step(case, "portal", refresh, "in_progress", "refreshed", post_id=f"XQ{case.id:06d}")
                refresh = self._at(refresh, rng.uniform(25, 30) * 24 if diligent else rng.uniform(35, 50) * 24)
        push_at = self._at(arrived, rng.uniform(26, 46) if diligent else rng.uniform(50, 90))
        if push_at and push_at < end:
            self._step(case, "toutiao", push_at, "in_progress", "pushed", area=f"天津市{case.found_place[:3]}",
                       radius_km=5, pushed_at=push_at.astimezone(CHINA_TZ).isoformat())
        dna_at = self._at(arrived, rng.uniform(4, 20) if minor else (rng.uniform(24, 150) if diligent else rng.uniform(240, 400)))
        if dna_at and dna_at < end:
            self._step(case, "dna", dna_at, "in_progress", "requested", police_office="河西公安分局")
            collected = self._at(dna_at, rng.uniform(4, 48))
            if collected and collected < end:
                self._step(case, "dna", collected, "in_progress", "collected", sample_id=f"TJ-DNA-{case.id:05d}")
                result = self._at(collected, rng.uniform(10, 28) * 24)
                if result and result < end and decisive != "dna":
                    self._step(case, "dna", result, "no_result", "result", sample_id=f"TJ-DNA-{case.id:05d}",
                               result="no_match")
        paper_at = self._at(arrived, rng.uniform(72, 200))
        if paper_at and paper_at < end and rng.random() < 0.6:
            self._step(case, "newspaper", paper_at, "in_progress", "published", paper="今晚报",
                       published_on=paper_at.astimezone(CHINA_TZ).date().isoformat())
        talk = self._at(arrived, rng.uniform(2, 30))
        while talk and talk < end:
            self._step(case, "interview", talk, "in_progress", "held",
                       notes=rng.choice(("自述老家有河，家门口有学校", "能说出村名的一个字", "情绪稳定，回忆不清",
                                         "提到哥哥在工地", "口音像" + province + "一带")),
                       clue_places=[province] if rng.random() < 0.4 else [])
            talk = self._at(talk, rng.uniform(6, 8) * 24 if diligent else rng.uniform(8, 14) * 24)
        if end - arrived > timedelta(days=10) and rng.random() < 0.7:
            case.events.append(CaseEvent(kind="extension_approved", at=arrived + timedelta(days=rng.uniform(10, 12))))

        if identified_at:
            self._identify(case, person, decisive, identified_at, script[0] if script else None)
        else:
            self._unidentified_outcome(case, person, arrived, script[0] if script else None)
        self._other_candidates(case, person)

    def _identify(self, case: Case, person: Person, channel: str, at: datetime, forced: str | None = None) -> None:
        rng, now = self.rng, self.now
        if channel == "face":
            report = self._report(person, status="found", found_case_id=case.id)
            db.session.flush()
            band = "likely" if rng.random() < 0.85 else "possible"
            candidate = CandidateMatch(
                pair_key=f"g:{case.id}:{report.id}", kind="gallery", case_id=case.id, report_id=report.id,
                engine=ENGINE, face_distance=round(rng.uniform(0.30, 0.5 if band == "likely" else 0.6), 3),
                score=round(rng.uniform(0.8, 0.97) if band == "likely" else rng.uniform(0.6, 0.8), 3), band=band,
                evidence={"reasons": ["demo"]}, status="confirmed", decided_at=at, note="家属照片比对一致")
            db.session.add(candidate)
            db.session.flush()
            self.counts["candidates"] += 1
            case.identified_by_report_id = report.id
            self._step(case, "face", at, "confirmed", "reviewed", candidate_id=candidate.id, decision="confirmed")
        else:
            note = {"portal": "家属看到寻亲网公告来电", "toutiao": "头条推送后村干部来电", "newspaper": "读者看到报纸公告来电",
                    "dna": "公安DNA比对一致", "interview": "问询中说出村名，经当地派出所核实"}[channel]
            row = next(c for c in case.channels if c.channel == channel)
            if row.status == "not_started":
                self._step(case, channel, at - timedelta(hours=2), "in_progress")
            if channel == "dna":
                self._step(case, "dna", at, "confirmed", "result", result="match")
            else:
                self._step(case, channel, at, "confirmed", note=note)
        case.identity_status, case.identified_by_channel, case.identified_at = "confirmed", channel, at
        case.events.append(CaseEvent(kind="identity_confirmed", at=at, data={"by": channel}))
        contact = at + timedelta(hours=rng.uniform(1, 20))
        if contact < now:
            db.session.add(FamilyContact(case_id=case.id, at=contact, contact_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                                         relation=rng.choice(("儿子", "女儿", "哥哥", "妻子", "父亲", "村干部")),
                                         phone=f"138{rng.randint(10000000, 99999999)}", method="phone",
                                         outcome="will_pick_up"))
            case.events.append(CaseEvent(kind="family_contacted", at=contact, data={"method": "phone"}))
        # Most go home within days; a few are still waiting (the KPI gap the queue shows).
        if forced != "waiting" and (forced or rng.random() < 0.88):
            arranged = at + timedelta(days=rng.uniform(0.3, 2.5))
            home = arranged + timedelta(days=rng.uniform(0.2, 4))
            if arranged < now:
                case.events.append(CaseEvent(kind="return_arranged", at=arranged))
            if home < now:
                self._exit(case, person, forced or self._home_exit(case, person), home)

    def _home_exit(self, case: Case, person: Person) -> str:
        adult_alone = (person.age_min or 0) >= 16 and case.can_travel_alone and not case.is_minor
        return self.rng.choices(("family_pickup", "escorted_home", "self_return"),
                                (50, 35, 15 if adult_alone else 0))[0]

    def _unidentified_outcome(self, case: Case, person: Person, arrived: datetime, forced: str | None = None) -> None:
        """Most unidentified people are still in care; some left, went to hospital, were placed or died."""
        rng, now = self.rng, self.now
        stay = (now - arrived).days
        adult = (person.age_min or 18) >= 16 and not case.is_minor
        options = [("stay", 100)]
        if stay > 3 and adult:
            options.append(("left_voluntarily", 10))
        if stay > 5:
            options.append(("medical", 6))
        if stay > 30:
            options.append(("transfer", 10))
        if stay > 100 and adult:
            options.append(("settlement", 30))
        if stay > 45 and (person.age_min or 0) >= 60:
            options.append(("deceased", 8))
        choice = forced or weighted(rng, options)
        if choice in ("stay", "in_hospital"):
            return
        if choice == "settlement":
            for row in case.channels:  # settlement needs every applicable channel tried
                if row.status == "not_started":
                    self._step(case, row.channel, arrived + timedelta(days=rng.uniform(20, 80)), "in_progress")
            at = arrived + timedelta(days=rng.uniform(92, stay))
            case.events.append(CaseEvent(kind="settlement_review", at=at - timedelta(days=1)))
            self._exit(case, person, "settlement", at)
        elif choice == "transfer":
            self._exit(case, person, "transfer", arrived + timedelta(days=rng.uniform(25, stay)),
                       destination="天津市儿童福利院" if case.is_minor else "天津市托养中心")
        else:
            self._exit(case, person, choice, arrived + timedelta(days=rng.uniform(1, min(stay, 40))))

    def _exit(self, case: Case, person: Person, exit_type: str, at: datetime, **details) -> None:
        rng = self.rng
        rule = EXIT_RULES[exit_type]
        if exit_type == "family_pickup":
            # The collector's ID number is checked at a real pickup; invented people have none.
            details = {"collector_name": rng.choice(SURNAMES) + rng.choice(GIVEN), "relation": "亲属", "note": "演示数据"}
        elif exit_type == "escorted_home":
            details = {"destination": f"{person.home[0]}{person.home[1]}", "receiving_office": f"{person.home[1]}市救助管理站",
                       "handover_person": rng.choice(SURNAMES) + rng.choice(GIVEN)}
        elif exit_type == "self_return":
            details = {"destination": f"{person.home[0]}{person.home[1]}"}
        case.state, case.exit_type, case.closed_at = rule.state, exit_type, at
        case.exit_details = details or None
        case.events.append(CaseEvent(kind="exit", at=at, data={"type": exit_type, "state": rule.state, **details}))
        self.counts["exits"] += 1

    def _other_candidates(self, case: Case, person: Person) -> None:
        """Face proposals that were not the person (rejected) or still wait for review."""
        rng = self.rng
        for _ in range(rng.choices((0, 1, 2), (60, 32, 8))[0]):
            report = self._report()
            db.session.flush()
            band = "possible" if rng.random() < 0.9 else "likely"  # strangers rarely reach "likely"
            open_case = case.state in ("in_station", "in_hospital") and case.identity_status != "confirmed"
            status = "pending" if open_case and rng.random() < 0.35 else "rejected"
            decided = case.arrived_at + timedelta(hours=rng.uniform(3, 72))
            db.session.add(CandidateMatch(
                pair_key=f"g:{case.id}:{report.id}", kind="gallery", case_id=case.id, report_id=report.id,
                engine=ENGINE, face_distance=round(rng.uniform(0.45, 0.62), 3),
                score=round(rng.uniform(0.45, 0.75), 3), band=band, evidence={"reasons": ["demo"]}, status=status,
                decided_at=decided if status != "pending" and decided < self.now else None,
                note="性别年龄相符，但面部特征不同" if status == "rejected" else None))
            self.counts["candidates"] += 1

