"""Description matching (interview clues → missing-person reports): calibration, accuracy and speed.

    python bench/clue_bench.py --calibrate            # signal weights on seed 1 (in memory): clues_calibration.md
    python bench/clue_bench.py                        # accuracy at 10,000 reports, speed at 100,000 (PostgreSQL)
    python bench/clue_bench.py --reports 10000 --latency-reports 0 --pairs 200 --seed 2

Identities and clue variations come from bench/clue_data.py (dev data of service/demo.py; homophone and
miswritten names, partial places, dialect, age error ±5 years, marks described differently). The accuracy
run goes through the real path: a scratch PostgreSQL database (`huijia_bench_clues`, created and dropped)
migrated by Alembic, reports and their profiles and index keys written as services.clues writes them, each
case's interview clues read by services.clues.case_clues, and services.clues.propose run per case:

- rank-1: the true report is the first description candidate;
- false candidates per case: proposed reports that are not the person's (target: at most 3 per case);
- propose ms p50 / p95 per case (index lookup, loading profiles, scoring), at 10^4 and at 10^5 reports.
Writes clues.json and clues.md to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import clue_data as gen  # noqa: E402
from bench.scratch_db import create_database, drop_database, in_process_app  # noqa: E402
from service.domain import clues as rules  # noqa: E402

ADMIN_URL = os.environ.get("HUIJIA_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DB_NAME = "huijia_bench_clues"
TODAY = date(2026, 12, 1)
OUT = ROOT / "bench" / "results"


# ---------------------------------------------------------------- calibration (in memory)


def calibrate(seed: int, n_reports: int, n_pairs: int, random_per_case: int = 2000) -> dict:
    """How often each signal level is seen for true pairs and for random pairs → log likelihood ratios."""
    rng = random.Random(seed)
    people = gen.identities(n_reports, seed, TODAY)
    reports = [rules.report_profile(gen.report_of(p, rng)) for p in people]
    true_counts, random_counts = Counter(), Counter()
    n_true = n_random = 0
    for idx in rng.sample(range(n_reports), n_pairs):
        clues, _used = gen.case_of(people[idx], rng, TODAY)
        case = rules.case_profile(clues)
        n_true += 1
        for s in rules.score(case, reports[idx], TODAY).signals:
            true_counts[(s.attr, s.level)] += 1
        for j in rng.sample(range(n_reports), random_per_case):
            if j == idx:
                continue
            n_random += 1
            for s in rules.score(case, reports[j], TODAY).signals:
                random_counts[(s.attr, s.level)] += 1
    table = []
    for key in sorted(set(true_counts) | set(random_counts), key=lambda k: (k[0], str(k[1]))):
        p_true = (true_counts[key] + 0.5) / (n_true + 1)
        p_random = (random_counts[key] + 0.5) / (n_random + 1)
        table.append({"signal": key[0], "level": key[1], "true_pairs": true_counts[key], "random_pairs": random_counts[key],
                      "p_true": round(p_true, 5), "p_random": round(p_random, 7),
                      "llr": round(math.log(p_true / p_random), 2),
                      "weight_in_use": rules.WEIGHTS.get(key[0], {}).get(key[1])})
    return {"seed": seed, "reports": n_reports, "true_pairs": n_true, "random_pairs": n_random, "table": table}


def write_calibration(result: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "clues_calibration.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    lines = [f"# Description matching: signal calibration (seed {result['seed']})", "",
             f"{result['true_pairs']} true pairs, {result['random_pairs']} random pairs from {result['reports']} generated "
             "reports. LLR = ln(P(level | same person) / P(level | strangers)), +0.5 smoothing. The weights in use "
             "(service/domain/clues.py WEIGHTS) are these, rounded and capped; a level seen in no random pair is capped "
             "by judgement (a name heard the same way is not proof).", "",
             "| signal | level | true pairs | random pairs | LLR | weight in use |", "|---|---|---|---|---|---|"]
    for row in result["table"]:
        lines.append(f"| {row['signal']} | {row['level']} | {row['true_pairs']} | {row['random_pairs']} | {row['llr']} | "
                     f"{row['weight_in_use'] if row['weight_in_use'] is not None else '—'} |")
    (OUT / "clues_calibration.md").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- the real path (PostgreSQL)


def _app(url: str):
    return in_process_app(url, OUT / "tmp")


def _insert_reports(db, people, rng, start_id: int) -> list[int]:
    """Reports as rows, with the profile and keys services.clues.refresh_profile writes (bulk, same content)."""
    from service.models import ClueKey, ClueProfile, GalleryReport
    from service.services.clues import _hash

    report_rows, profile_rows, key_rows, ids = [], [], [], []
    for offset, person in enumerate(people):
        rid = start_id + offset
        clues = gen.report_of(person, rng)
        report_rows.append({"id": rid, "status": "open", "source": "import", "name": clues.name, "gender": clues.sex,
                            "age_at_missing": clues.age_at_missing, "missing_since": clues.missing_since,
                            "missing_place": clues.missing_place, "hometown": clues.hometown, "marks": clues.marks,
                            "description": clues.description, "contact_name": clues.contact_name,
                            "matching_status": "done"})
        profile = rules.report_profile(clues)
        profile_rows.append({"owner_kind": "report", "owner_id": rid, "profile": profile.as_json(),
                             "source_hash": _hash(clues), "built_at": datetime.now(timezone.utc)})
        key_rows += [{"owner_kind": "report", "owner_id": rid, "key": k} for k in rules.index_keys(profile)]
        ids.append(rid)
    for table, rows in ((GalleryReport.__table__, report_rows), (ClueProfile.__table__, profile_rows),
                        (ClueKey.__table__, key_rows)):
        for i in range(0, len(rows), 5000):
            db.session.execute(table.insert(), rows[i:i + 5000])
    db.session.commit()
    return ids


def _case_with_interview(db, station_id: int, clues) -> int:
    """A case row and one interview step carrying the clues, as staff record them."""
    from service.models import Case, ChannelEvent, SearchChannel

    arrived = datetime.combine(clues.seen_on, datetime.min.time(), tzinfo=timezone.utc)
    case = Case(station_id=station_id, arrived_at=arrived, gender=clues.sex, name=clues.name, age_min=clues.age_min,
                age_max=clues.age_max, dialect=clues.dialect, marks=clues.marks, categories=[], matching_status="done")
    channel = SearchChannel(channel="interview", status="in_progress")
    case.channels = [channel]
    db.session.add(case)
    db.session.flush()
    fields = {"kind": "held", "notes": "；".join(clues.notes) or "问询", "clue_names": list(clues.clue_names),
              "clue_places": list(clues.clue_places)}
    db.session.add(ChannelEvent(channel_id=channel.id, status="in_progress", fields=fields))
    db.session.commit()
    return case.id


def _propose_case(db, case_id: int):
    from service.models import Case
    from service.services import clues

    started = time.perf_counter()
    case = db.session.get(Case, case_id)
    profile, _ = clues.refresh_profile("case", case.id, clues.case_clues(case))
    ranked = clues.propose(profile, "case")
    ms = (time.perf_counter() - started) * 1000
    db.session.rollback()
    return ranked, ms


def _pct(values, q):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None


def run(seed: int, n_reports: int, n_pairs: int, latency_reports: int) -> dict:
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())  # latencies are only as quiet as the host
    try:
        app = _app(create_database(ADMIN_URL, DB_NAME))
        from service.extensions import db
        from service.models import Station

        rng = random.Random(seed)
        with app.app_context():
            station = Station(code="BENCH", name="bench", city="天津")
            db.session.add(station)
            db.session.commit()
            people = gen.identities(n_reports, seed, TODAY)
            t0 = time.perf_counter()
            report_ids = _insert_reports(db, people, rng, 1)
            load_s = time.perf_counter() - t0
            pairs = rng.sample(range(n_reports), n_pairs)
            cases = []
            for idx in pairs:
                clues, used = gen.case_of(people[idx], rng, TODAY)
                cases.append((_case_with_interview(db, station.id, clues), report_ids[idx], used))
            first = falses = 0
            false_counts, ms_10k, misses, used_all, found_any = [], [], Counter(), Counter(), 0
            for case_id, report_id, used in cases:
                ranked, ms = _propose_case(db, case_id)
                ms_10k.append(ms)
                ok = bool(ranked) and ranked[0][0] == report_id
                first += ok
                found_any += any(r == report_id for r, _s in ranked)
                false = sum(1 for r, _s in ranked if r != report_id)
                false_counts.append(false)
                falses += false
                for u in used:
                    used_all[u] += 1
                    misses[u] += not ok
            result = {
                "seed": seed, "reports": n_reports, "pairs": n_pairs,
                "rank1": round(first / n_pairs, 4), "true_report_proposed": round(found_any / n_pairs, 4),
                "false_per_case_mean": round(falses / n_pairs, 3), "false_per_case_p95": _pct(false_counts, 0.95),
                "false_per_case_max": max(false_counts), "cases_over_3_false": sum(1 for f in false_counts if f > 3),
                "propose_ms_p50": _pct(ms_10k, 0.5), "propose_ms_p95": _pct(ms_10k, 0.95),
                "report_load_s": round(load_s, 1), "load_before": load_before,
                "rank1_by_variation": {u: round(1 - misses[u] / used_all[u], 3) for u in sorted(used_all)},
                "variation_counts": dict(sorted(used_all.items())),
            }
            if latency_reports > n_reports:
                more = gen.identities(latency_reports - n_reports, seed + 1000, TODAY)
                t0 = time.perf_counter()
                _insert_reports(db, more, rng, n_reports + 1)
                result["report_load_100k_s"] = round(time.perf_counter() - t0, 1)
                db.session.execute(sa.text("ANALYZE"))
                db.session.commit()
                timings, first_big, false_big = [], 0, []
                for case_id, report_id, _u in cases:
                    ranked, ms = _propose_case(db, case_id)
                    timings.append(ms)
                    first_big += bool(ranked) and ranked[0][0] == report_id
                    false_big.append(sum(1 for r, _s in ranked if r != report_id))
                result.update({"latency_reports": latency_reports, "propose_ms_p50_at_latency": _pct(timings, 0.5),
                               "propose_ms_p95_at_latency": _pct(timings, 0.95),
                               "propose_ms_max_at_latency": _pct(timings, 1.0),
                               "rank1_at_latency": round(first_big / n_pairs, 4),
                               "false_per_case_mean_at_latency": round(sum(false_big) / n_pairs, 3),
                               "false_per_case_p95_at_latency": _pct(false_big, 0.95)})
        return result
    finally:
        drop_database(ADMIN_URL, DB_NAME)


def write(result: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    result = {**result, "host": platform.node(), "python": platform.python_version(),
              "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (OUT / "clues.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    met = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    lines = [
        "# Description matching: interview clues → missing-person reports", "",
        f"{result['pairs']} case/report pairs (seed {result['seed']}) among {result['reports']:,} reports, through "
        "services.clues (PostgreSQL; profiles, index keys, propose).", "",
        "| measure | value | target |", "|---|---|---|",
        f"| right report is the first description candidate | {result['rank1']:.1%} | ≥ 90 % {met(result['rank1'] >= 0.9)} |",
        f"| right report proposed at all | {result['true_report_proposed']:.1%} | |",
        f"| false description candidates per case (mean / p95 / max) | {result['false_per_case_mean']} / "
        f"{result['false_per_case_p95']} / {result['false_per_case_max']} | ≤ 3 {met(result['false_per_case_p95'] <= 3)} |",
        f"| cases with more than 3 false candidates | {result['cases_over_3_false']} of {result['pairs']} | |",
        f"| propose ms p50 / p95 at {result['reports']:,} reports | {result['propose_ms_p50']} / {result['propose_ms_p95']} | |",
    ]
    if "latency_reports" in result:
        lines.append(f"| propose ms p50 / p95 / max at {result['latency_reports']:,} reports | "
                     f"{result['propose_ms_p50_at_latency']} / {result['propose_ms_p95_at_latency']} / "
                     f"{result['propose_ms_max_at_latency']} | p95 ≤ 200 {met(result['propose_ms_p95_at_latency'] <= 200)} |")
        lines.append(f"| at {result['latency_reports']:,} reports: rank-1 / false per case (mean, p95) | "
                     f"{result['rank1_at_latency']:.1%} / {result['false_per_case_mean_at_latency']}, "
                     f"{result['false_per_case_p95_at_latency']} | (targets are set at 10,000) |")
    lines.append(f"| load average before the run (2 cores) | {result.get('load_before', '—')} | |")
    lines += ["", "Rank-1 by the variations a pair's clues carried (a pair carries several):", "",
              "| variation | pairs | rank-1 |", "|---|---|---|"]
    for name, count in result["variation_counts"].items():
        lines.append(f"| {name} | {count} | {result['rank1_by_variation'][name]:.1%} |")
    lines += ["", f"Host {result['host']}, Python {result['python']}, {result['at']}."]
    (OUT / "clues.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--latency-reports", type=int, default=100_000)
    args = parser.parse_args()
    if args.calibrate:
        result = calibrate(1, args.reports, 400)
        write_calibration(result)
        print(json.dumps(result["table"], ensure_ascii=False, indent=1))
        return
    result = run(args.seed, args.reports, args.pairs, args.latency_reports)
    write(result)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
