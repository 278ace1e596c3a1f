"""Open-set matching with strangers in the gallery: FNIR, FPIR, false candidates per arrival; the cuts by gallery size.

    python bench/open_set.py [--engine sface] [--faces DIR] [--distractors DIR] [--out bench/results] [--write-calibration] [--dlib]

What it does (numbers in <out>/open_set.json and .md):
1. Every dev-set photo and every stranger photo (../shared/faces-distractors) goes through the engine's
   `analyze`, so the face used is the one the service would use (engine/subject.py). How the subject rule did
   on photos with several faces is reported (`subject`): dev photos are checked against the identity's other
   photos, stranger photos against LFW's convention that the labelled face is the centred one.
2. Calibration: the strangers are split in two halves by name (open_set_levers.half_of). Half A is the cohort
   the service normalises scores against (S-norm: how far a pair's similarity stands above what each of the two
   faces usually scores with strangers; service/matching/normalise.py) and its calibration: the normalised
   distances between every two strangers of half A (about half a million pairs of different people) give the
   impostor distance distribution: for each per-pair false accept rate (FAR), the distance below which that share
   of pairs falls. Below what the pairs can measure the tail is extrapolated by a straight line of log10(FAR)
   against distance, fitted on FAR 1e-5..1e-3. With --write-calibration the table is written to
   service/matching/calibration/<engine>.json and half A's embeddings (float16) to <engine>_cohort.npy;
   evidence.open_set_cuts reads the table: cut(N) = the distance at FAR = target false candidates per arrival / N.
3. Open set, measured: the gallery is the dev set's report photos (photo 1 of each person) plus N strangers
   (500, 1,000, all); every other dev photo is an arrival. FNIR: the arrival's report is not the first
   candidate under the cut. FPIR: the same arrival searched with its own report left out still gets a
   candidate (a person not in the gallery). False candidates per arrival: wrong gallery entries under the cut.
   For today's fixed cuts on raw distances, and for the service's scores at the size-dependent cuts. The sex
   gate applies between dev people (their sex is known); strangers have no recorded sex, so none is gated out.
   The levers (open_set_levers.py) are measured on half B only, each calibrated on half A.
4. Projection to 10^5 and 10^6 entries from the fitted tail: false candidates per arrival = N x FAR(cut),
   FPIR = 1 - exp(-N x FAR(cut)) (independent pairs), FNIR = share of the dev set's genuine distances above the
   cut (the rank effect of more impostors is left out, so the projected FNIR is a lower bound); with and without
   a sex gate (modelled: half the gallery has the other sex; the service then sets the cut for the half a probe
   can match, as candidates.gallery_size counts it).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.calibrate import DEFAULT_FACES, EAST_ASIAN, read_manifest  # noqa: E402
from bench import open_set_levers as levers  # noqa: E402
from bench.operating_point import sex  # noqa: E402

log = logging.getLogger("open_set")

DEFAULT_DISTRACTORS = DEFAULT_FACES.parent / "faces-distractors"
CALIBRATION_DIR = PROJECT_ROOT / "service" / "matching" / "calibration"
SIZES = (500, 1000)
PROJECT_TO = (10_000, 100_000, 1_000_000)
SEEDS = (1, 2, 3)
# Stranger photos that show a dev-set person after all (LFW files the same man under two names).
SAME_PERSON = {"Joseph_Biden": "Joe_Biden"}
# FARs written to the calibration table (per pair), and the range the tail line is fitted on.
FAR_GRID = tuple(10.0 ** -e for e in np.arange(1.0, 6.51, 0.25))
FIT_RANGE = (1e-5, 1e-3)


# -- encoding


def _key(engine, files: list[Path]) -> str:
    """Engine build, subject rule and photos: a change of any of them re-encodes."""
    h = hashlib.sha256(engine.version.encode())
    h.update((PROJECT_ROOT / "service" / "matching" / "engine" / "subject.py").read_bytes())
    for f in files:
        h.update(str(f).encode())
        h.update(str(f.stat().st_size).encode())
    return h.hexdigest()


def encode(engine, files: list[Path], cache: Path | None) -> dict:
    """Per photo: status, subject index, subject embedding; per face of photos with several: embedding, centre."""
    from service.matching.engine import decode_image
    from service.matching.engine.subject import centre_offset

    key = _key(engine, files)
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) == key:
                return {k: data[k] for k in data.files if k != "key"}
    n = len(files)
    out = {"emb": np.full((n, engine.dim), np.nan, np.float32), "emb_single": np.full((n, engine.dim), np.nan, np.float32),
           "emb_tta4": np.full((n, engine.dim), np.nan, np.float32), "status": np.empty(n, "U16"),
           "subject": np.full(n, -1, np.int32), "nfaces": np.zeros(n, np.int32), "choice": np.empty(n, "U12")}
    multi = {"mf_photo": [], "mf_index": [], "mf_emb": [], "mf_centre": []}
    started = time.perf_counter()
    for i, path in enumerate(files):
        rgb = decode_image(path.read_bytes())
        analysis = engine.analyze(rgb)
        out["status"][i], out["nfaces"][i] = analysis.status, len(analysis.faces)
        out["choice"][i] = analysis.choice or ""
        if analysis.subject is not None:
            out["subject"][i] = analysis.subject
            out["emb"][i] = analysis.faces[analysis.subject].embedding
            if hasattr(engine, "passes"):  # one pass (the engine before tta2), and four (tta2 + mirrored): levers
                face = analysis.faces[analysis.subject]
                passes = engine.passes(rgb, face.landmarks, face.box)
                out["emb_single"][i] = passes["yunet"]
                total = sum(passes.values())
                out["emb_tta4"][i] = total / np.linalg.norm(total)
        if len(analysis.faces) > 1:
            for j, face in enumerate(analysis.faces):
                multi["mf_photo"].append(i)
                multi["mf_index"].append(j)
                multi["mf_emb"].append(face.embedding)
                multi["mf_centre"].append(centre_offset(face, analysis.width, analysis.height))
        if (i + 1) % 250 == 0:
            log.info("event=encoded done=%d total=%d s=%.0f", i + 1, n, time.perf_counter() - started)
    out.update({k: np.asarray(v, dtype=np.float32 if k in ("mf_emb", "mf_centre") else np.int32) for k, v in multi.items()})
    if not multi["mf_emb"]:
        out["mf_emb"] = np.zeros((0, engine.dim), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=np.array(key), **out)
    return out


# -- subject choice


def subject_report(enc: dict, labels: list[str], kinds: list[str]) -> dict:
    """How the subject rule did on photos with two or more faces."""
    # Reference for a dev identity: the mean of its single-face photos' embeddings.
    refs: dict[str, list] = defaultdict(list)
    for i, label in enumerate(labels):
        if kinds[i] == "dev" and enc["nfaces"][i] == 1 and enc["subject"][i] >= 0:
            refs[label].append(enc["emb"][i])
    counts = {"dev": defaultdict(int), "stranger": defaultdict(int)}
    photos = defaultdict(list)
    for row, i in enumerate(enc["mf_photo"]):
        photos[int(i)].append(row)
    for i, rows in photos.items():
        kind = "dev" if kinds[i] == "dev" else "stranger"
        c = counts[kind]
        c["photos"] += 1
        c[str(enc["status"][i])] += 1
        if enc["subject"][i] < 0:
            continue
        if kind == "stranger":
            truth = int(enc["mf_index"][min(rows, key=lambda r: enc["mf_centre"][r])])
        elif refs.get(labels[i]):
            ref = np.mean(refs[labels[i]], axis=0)
            truth = int(enc["mf_index"][max(rows, key=lambda r: float(enc["mf_emb"][r] @ ref))])
        else:
            continue
        right = truth == int(enc["subject"][i])
        c["chosen_right" if right else "chosen_wrong"] += 1
        c[f"{enc['choice'][i]}_{'right' if right else 'wrong'}"] += 1
    return {k: dict(v) for k, v in counts.items()}


# -- calibration


def far_of(calibration: dict, distance: float) -> float:
    """Per-pair impostor accept rate at `distance`: the inverse of the service's evidence.distance_at_far."""
    table = calibration["table"]
    fars = np.array([t[0] for t in table])
    dists = np.array([t[1] for t in table])
    if distance >= dists[0]:
        return float(fars[0])
    if distance >= dists[-1]:
        return float(10 ** np.interp(distance, dists[::-1], np.log10(fars[::-1])))
    fit = calibration["tail_fit"]
    return float(10 ** (fit["log10_far_intercept"] + fit["log10_far_slope"] * distance))


# -- open set


def evaluate(dist: np.ndarray, own: np.ndarray, gated: np.ndarray, cut: float) -> dict:
    """FNIR / FPIR / false candidates per arrival at one cut. `own`: the arrival's report; `gated`: sex differs."""
    return {**levers.metrics(dist, own, gated, cut), "arrivals": int(len(dist))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="sface")
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES)
    parser.add_argument("--distractors", type=Path, default=DEFAULT_DISTRACTORS)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results")
    parser.add_argument("--write-calibration", action="store_true")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--dlib", action="store_true", help="also measure fusion with the dlib engine (encodes every photo with dlib: ~8 min more uncached)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()

    from service.matching import evidence, normalise
    from service.matching.engine import get_engine

    engine = get_engine(args.engine)
    dev_rows = read_manifest(args.faces)
    with open(args.distractors / "manifest.csv", newline="", encoding="utf-8") as fh:
        stranger_rows = [r for r in csv.DictReader(fh) if r["identity"] not in SAME_PERSON]
    files = [args.faces / r["file"] for r in dev_rows] + [args.distractors / r["file"] for r in stranger_rows]
    labels = [r["identity"] for r in dev_rows] + [r["identity"] for r in stranger_rows]
    kinds = ["dev"] * len(dev_rows) + ["stranger"] * len(stranger_rows)
    numbers = [int(Path(r["file"]).stem) if Path(r["file"]).stem.isdigit() else 0 for r in dev_rows]
    cache = None if args.no_cache else args.out / f".cache_open_set_{engine.name}.npz"
    enc = encode(engine, files, cache)

    usable = enc["subject"] >= 0
    dev_n = len(dev_rows)
    emb = enc["emb"]
    stranger_idx = np.array([i for i in range(dev_n, len(files)) if usable[i]])
    report_idx = np.array([i for i in range(dev_n) if numbers[i] == 1 and usable[i]])
    arrival_idx = np.array([i for i in range(dev_n) if numbers[i] != 1 and usable[i]])
    lab = np.array(labels)

    cohort_idx = np.array([i for i in stranger_idx if levers.half_of(labels[i]) == "A"])
    calibration = levers.service_calibration(engine, emb, cohort_idx)
    if args.write_calibration:
        CALIBRATION_DIR.mkdir(parents=True, exist_ok=True)
        (CALIBRATION_DIR / f"{engine.name}.json").write_text(json.dumps(calibration, indent=1) + "\n", encoding="utf-8")
        np.save(CALIBRATION_DIR / f"{engine.name}_cohort.npy", emb[cohort_idx].astype(np.float16))
        evidence.impostor_calibration.cache_clear()
        normalise.cohort_of.cache_clear()
    in_service = evidence.impostor_calibration(engine.name)
    scored = levers.service_distances(engine, in_service)

    probes = emb[arrival_idx]
    probe_sex = np.array([sex(labels[i]) for i in arrival_idx])
    rng_orders = {seed: np.random.default_rng(seed).permutation(len(stranger_idx)) for seed in SEEDS}
    sizes = [n for n in SIZES if n < len(stranger_idx)] + [len(stranger_idx)]
    measured = []
    base_likely, base_possible = evidence.thresholds(engine)["adult"]
    for n in sizes:
        rows = defaultdict(list)
        for seed in (SEEDS if n < len(stranger_idx) else SEEDS[:1]):
            chosen = stranger_idx[rng_orders[seed][:n]]
            gallery = np.concatenate([report_idx, chosen])
            gal_lab = lab[gallery]
            gal_sex = np.array([sex(labels[i]) if kinds[i] == "dev" else "unknown" for i in gallery])
            dist = 1.0 - probes @ emb[gallery].T
            product = scored(probes, emb[gallery])
            own = lab[arrival_idx][:, None] == gal_lab[None, :]
            gated = (probe_sex[:, None] != gal_sex[None, :]) & (gal_sex[None, :] != "unknown")
            entries = len(gallery)
            cuts = evidence.open_set_cuts(engine, entries, calibration=in_service)["adult"]
            rows["fixed_possible"].append(evaluate(dist, own, gated, base_possible))
            rows["fixed_likely"].append(evaluate(dist, own, gated, base_likely))
            rows["by_size_possible"].append({**evaluate(product, own, gated, cuts[1]), "cut": round(cuts[1], 4)})
            rows["by_size_likely"].append({**evaluate(product, own, gated, cuts[0]), "cut": round(cuts[0], 4)})
        measured.append({"strangers": n, "entries": int(len(report_idx) + n),
                         **{k: _mean_rows(v) for k, v in rows.items()}})

    genuine = _genuine_distances(scored, emb, lab, numbers, usable, dev_n)
    projection = []
    for n in PROJECT_TO + (len(stranger_idx) + len(report_idx),):
        for gate in (1.0, 0.5):
            # The service sets the cut for the entries a probe can match (sex gate: evidence.gallery_size).
            cuts = evidence.open_set_cuts(engine, int(n * gate), calibration=in_service)["adult"]
            row = {"entries": n, "sex_gate_share": gate}
            for band, cut in (("possible", cuts[1]), ("likely", cuts[0])):
                fc = n * gate * far_of(in_service, cut)
                row[band] = {"cut": round(cut, 4), "false_per_arrival": round(fc, 4), "fpir": round(1 - np.exp(-fc), 4),
                             "fnir_at_least": round(float(np.mean(genuine > cut)), 4)}
            fixed_fc = n * gate * far_of(in_service, base_possible)
            row["fixed_possible"] = {"cut": base_possible, "false_per_arrival": round(fixed_fc, 2),
                                     "fpir": round(1 - np.exp(-fixed_fc), 4), "fnir_at_least": round(float(np.mean(genuine > base_possible)), 4)}
            projection.append(row)

    dlib = (levers.encode_dlib(files, None if args.no_cache else args.out / ".cache_open_set_dlib.npz") if args.dlib
            else np.full_like(emb, np.nan))
    lever_data = levers.Data(emb, enc["emb_single"], enc["emb_tta4"], dlib, labels, kinds, numbers + [0] * len(stranger_rows), usable, sex)
    lever_report = levers.run(lever_data, started)
    pairs = _pair_rates(scored, emb, lab, usable, dev_n, in_service, engine, len(stranger_idx) + len(report_idx))
    report = {
        "engine": engine.version,
        "seconds": round(time.perf_counter() - started, 1),
        "photos": {"dev": dev_n, "strangers": len(stranger_rows), "strangers_left_out_same_person": sorted(SAME_PERSON),
                   "reports": int(len(report_idx)), "arrivals": int(len(arrival_idx)),
                   "strangers_with_a_subject": int(len(stranger_idx))},
        "subject": subject_report(enc, labels, kinds),
        "calibration": {k: calibration[k] for k in ("pairs", "strangers", "tail_fit")},
        "targets_false_per_arrival": dict(evidence.FALSE_CANDIDATES_PER_ARRIVAL),
        "fixed_cuts": {"possible": base_possible, "likely": base_likely},
        "measured": measured,
        "projection": projection,
        "pairs": pairs,
        "levers": lever_report,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "open_set.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "open_set.md").write_text(markdown(report), encoding="utf-8")
    log.info("event=done s=%.0f", time.perf_counter() - started)
    return 0


def _mean_rows(rows: list[dict]) -> dict:
    return {k: (round(float(np.mean([r[k] for r in rows])), 4) if k != "arrivals" else rows[0][k]) for k in rows[0]}


def _genuine_distances(scored, emb, lab, numbers, usable, dev_n) -> np.ndarray:
    """Each arrival photo's distance (as the service scores it) to its own report photo (photo 1)."""
    report_of = {lab[i]: i for i in range(dev_n) if numbers[i] == 1 and usable[i]}
    pairs = [(i, report_of[lab[i]]) for i in range(dev_n) if numbers[i] != 1 and usable[i] and lab[i] in report_of]
    return np.array([float(scored(emb[[i]], emb[[r]])[0, 0]) for i, r in pairs])


def _pair_rates(scored, emb, lab, usable, dev_n, calibration, engine, entries) -> dict:
    """Per photo pair in the dev set: genuine accept and (East Asian) impostor accept at the cuts (the fixed cut
    on raw distances, the cuts by size on the scores the service computes)."""
    from service.matching import evidence

    idx = np.array([i for i in range(dev_n) if usable[i]])
    raw = 1.0 - emb[idx] @ emb[idx].T
    d = scored(emb[idx], emb[idx])
    iu = np.triu_indices(len(idx), k=1)
    same = (lab[idx][:, None] == lab[idx][None, :])[iu]
    east = (np.isin(lab[idx], list(EAST_ASIAN))[:, None] & np.isin(lab[idx], list(EAST_ASIAN))[None, :])[iu]
    out = {}
    cuts = evidence.open_set_cuts(engine, entries, calibration=calibration)["adult"]
    for name, cut, dist in (("fixed_possible", evidence.thresholds(engine)["adult"][1], raw[iu]),
                            (f"by_size_possible_{entries}", cuts[1], d[iu]), (f"by_size_likely_{entries}", cuts[0], d[iu])):
        out[name] = {"cut": round(float(cut), 4),
                     "genuine_accept": round(float(np.mean(dist[same] <= cut)), 4),
                     "impostor_accept": round(float(np.mean(dist[~same] <= cut)), 6),
                     "east_asian_impostor_accept": round(float(np.mean(dist[~same & east] <= cut)), 6),
                     "east_asian_impostor_pairs": int((~same & east).sum())}
    return out


def markdown(r: dict) -> str:
    lines = [f"# Open-set matching ({r['engine']})", "",
             f"`python bench/open_set.py` — {r['seconds']} s. Gallery: {r['photos']['reports']} dev-set reports + N strangers "
             f"(of {r['photos']['strangers_with_a_subject']} with a usable face; left out as the same person as a dev identity: "
             f"{', '.join(r['photos']['strangers_left_out_same_person'])}). Arrivals: {r['photos']['arrivals']} dev photos. "
             "Means over 3 random stranger subsets below the full set.", "",
             "## Measured", "",
             "Fixed cuts: raw distances. Service rows: the scores the service computes (S-norm against the cohort file, "
             "one photo per side here) at the cuts evidence.open_set_cuts sets for that many entries. Half of the strangers "
             "(half A) are the cohort and the calibration set: the rows with every stranger include them; the levers "
             "table below measures on half B only.", "",
             "| strangers | entries | cut | FNIR | FPIR | false candidates / arrival |", "|---|---|---|---|---|---|"]
    fixed = r["fixed_cuts"]
    for m in r["measured"]:
        for key, label in (("fixed_possible", f"fixed possible {fixed['possible']}"), ("fixed_likely", f"fixed likely {fixed['likely']}"),
                           ("by_size_possible", "service: by size, possible"), ("by_size_likely", "service: by size, likely")):
            row = m[key]
            cut = f" ({row['cut']})" if "cut" in row else ""
            lines.append(f"| {m['strangers']} | {m['entries']} | {label}{cut} | {row['fnir']} | {row['fpir']} | {row['false_per_arrival']} |")
    lines += ["", "## Projected (fitted impostor tail; FNIR is a lower bound)", "",
              "| entries | sex gate share | possible cut | false cand./arrival | FPIR | FNIR ≥ | likely cut | false cand./arrival | FNIR ≥ | "
              f"fixed {fixed['possible']}: false cand./arrival |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for p in r["projection"]:
        lines.append(f"| {p['entries']:,} | {p['sex_gate_share']} | {p['possible']['cut']} | {p['possible']['false_per_arrival']} | "
                     f"{p['possible']['fpir']} | {p['possible']['fnir_at_least']} | {p['likely']['cut']} | "
                     f"{p['likely']['false_per_arrival']} | {p['likely']['fnir_at_least']} | {p['fixed_possible']['false_per_arrival']} |")
    lines += ["", "## Photo pairs of the dev set", "", "| cut | genuine accept | impostor accept | East Asian impostor accept (pairs) |",
              "|---|---|---|---|"]
    for name, p in r["pairs"].items():
        lines.append(f"| {name} ({p['cut']}) | {p['genuine_accept']} | {p['impostor_accept']} | "
                     f"{p['east_asian_impostor_accept']} ({p['east_asian_impostor_pairs']}) |")
    lines += levers.markdown(r["levers"])
    lines += ["", "## Subject choice on photos with two or more faces", "", "```", json.dumps(r["subject"], indent=1), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
