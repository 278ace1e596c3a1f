"""Our operating point on the dev set: the face cut plus what the product adds around it.

The raw pair numbers (bench/calibrate.py) judge a face engine. The product decides per *person*:
an arrival may have several photos (best distance over them), a report and a case carry sex, and
a pair is proposed only under the `possible` cut of service/services/attributes.py. This script
reports genuine accept and East Asian impostor accept at that operating point, step by step.

    .venv/bin/python bench/operating_point.py [--engine sface] [--out bench/results]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calibrate import distance_matrix, encode_devset, read_manifest  # noqa: E402
from service.matching.evidence import THRESHOLDS  # noqa: E402
from service.matching.engine import get_engine  # noqa: E402

EAST_ASIAN = {"Chen_Shui-bian", "Jackie_Chan", "Kim_Ryong-sung", "Li_Peng", "Lucy_Liu", "Michelle_Yeoh",
              "Tang_Jiaxuan", "Yao_Ming", "Zhu_Rongji"}
# Sex of each dev-set identity (public figures and film characters), as a report and a case record it.
FEMALE = {"Drew_Barrymore", "Gwyneth_Paltrow", "Halle_Berry", "Jennifer_Lopez", "Jessica_Alba", "Kate_Winslet",
          "Keira_Knightley", "Lindsay_Lohan", "Lucy_Liu", "Michelle_Yeoh", "Miley_Cyrus", "Rose_Leslie", "Tina_Fey",
          "Victoria_Beckham", "claire_dearing", "ellie_sattler"}


def sex(identity: str) -> str:
    return "female" if identity in FEMALE else "male"


def person_level(dist: np.ndarray, ids: np.ndarray, usable: np.ndarray, cut: float, gate: bool) -> dict:
    """Photo 1 of each person = the report; the other photos together = one arrival (best distance)."""
    people = sorted(set(ids[usable]))
    first = {p: np.flatnonzero((ids == p) & usable)[0] for p in people}
    rest = {p: [i for i in np.flatnonzero((ids == p) & usable) if i != first[p]] for p in people}
    arrivals = [p for p in people if rest[p]]
    genuine = [min(dist[first[p], i] for i in rest[p]) <= cut for p in arrivals]
    impostor, impostor_ea = [], []
    for a, r in itertools.permutations(people, 2):
        if not rest[a]:
            continue
        accepted = min(dist[first[r], i] for i in rest[a]) <= cut and not (gate and sex(a) != sex(r))
        impostor.append(accepted)
        if a in EAST_ASIAN and r in EAST_ASIAN:
            impostor_ea.append(accepted)
    return {
        "people_with_arrival_photos": len(arrivals),
        "genuine_accept": round(float(np.mean(genuine)), 4),
        "impostor_person_pairs": len(impostor),
        "impostor_accept": round(float(np.mean(impostor)), 5),
        "east_asian_person_pairs": len(impostor_ea),
        "east_asian_impostor_accept": round(float(np.mean(impostor_ea)), 5),
        "east_asian_false_accepts": int(np.sum(impostor_ea)),
    }


def photo_level(dist: np.ndarray, ids: np.ndarray, usable: np.ndarray, cut: float, gate: bool) -> dict:
    idx = np.flatnonzero(usable)
    gen, imp, imp_ea = [], [], []
    for i, j in itertools.combinations(idx, 2):
        ok = dist[i, j] <= cut
        if ids[i] == ids[j]:
            gen.append(ok)
            continue
        ok = ok and not (gate and sex(ids[i]) != sex(ids[j]))
        imp.append(ok)
        if ids[i] in EAST_ASIAN and ids[j] in EAST_ASIAN:
            imp_ea.append(ok)
    return {"genuine_accept": round(float(np.mean(gen)), 4), "impostor_accept": round(float(np.mean(imp)), 5),
            "east_asian_impostor_accept": round(float(np.mean(imp_ea)), 5), "east_asian_pairs": len(imp_ea)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="sface")
    parser.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "faces")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    engine = get_engine(args.engine)
    rows = read_manifest(args.faces)
    enc = encode_devset(engine, args.faces, rows, args.out / f".cache_{engine.name}.npz")
    ids = np.array([r["identity"] for r in rows])
    usable = ~np.isnan(enc["embeddings"]).any(axis=1)
    dist = distance_matrix(engine, np.nan_to_num(enc["embeddings"]))
    likely, possible = THRESHOLDS[engine.name]["adult"]
    result = {"engine": engine.version, "cut_possible": possible, "cut_likely": likely, "steps": {}}
    for name, fn, gate in (
        ("photo pair, face only", photo_level, False),
        ("photo pair, face + sex gate", photo_level, True),
        ("person (best of the arrival's photos), face only", person_level, False),
        ("person (best of the arrival's photos), face + sex gate", person_level, True),
    ):
        result["steps"][name] = fn(dist, ids, usable, possible, gate)
    result["steps"]["person, likely band only, face + sex gate"] = person_level(dist, ids, usable, likely, True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"operating_point_{engine.name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    lines = [f"# Operating point ({engine.version}, possible ≤ {possible}, likely ≤ {likely})", "",
             "| step | genuine accept | impostor accept | East Asian impostor accept |", "|---|---|---|---|"]
    for name, r in result["steps"].items():
        lines.append(f"| {name} | {r['genuine_accept']} | {r['impostor_accept']} | {r['east_asian_impostor_accept']} |")
    (args.out / f"operating_point_{engine.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
