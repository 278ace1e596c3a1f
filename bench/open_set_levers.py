"""Open-set levers (issue 12), measured for bench/open_set.py: cohort score normalisation, test-time
augmentation (the engine's tta2 embedding against one SFace pass and against four), several photos per person, fusion with the
dlib engine, pre-filters.

Protocol (nothing tuned on what is measured): the strangers are split in two halves by a fixed hash of their
name. Half A is the cohort (the service ships its embeddings, calibration/<engine>_cohort.npy) and gives the
impostor calibration of every score (pairs of A strangers, each probe normalised against the rest of A); half B
and the dev set are what is measured. Every cut is set from half A alone: "calibrated" rows are what the service
would do at that gallery size. "At FPIR 0.03" and "at 0.1 false candidates" rows read the curve of the measured
set itself (FRVT's way of comparing scores at one error rate; not a cut anyone could set in advance).
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("open_set")


def half_of(name: str) -> str:
    """A or B, fixed by the stranger's name (not by the random subsets the sizes draw)."""
    return "A" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "B"


def encode_dlib(files: list[Path], cache: Path | None) -> np.ndarray:
    """The dlib engine's subject embedding of each photo (NaN where it finds none)."""
    from service.matching.engine import decode_image, get_engine

    engine = get_engine("dlib")
    h = hashlib.sha256(engine.version.encode())
    for f in files:
        h.update(str(f).encode())
        h.update(str(f.stat().st_size).encode())
    key = h.hexdigest()
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) == key:
                return data["emb"]
    out = np.full((len(files), engine.dim), np.nan, np.float32)
    started = time.perf_counter()
    for i, path in enumerate(files):
        analysis = engine.analyze(decode_image(path.read_bytes()))
        if analysis.subject is not None:
            out[i] = analysis.faces[analysis.subject].embedding
        if (i + 1) % 250 == 0:
            log.info("event=encoded_dlib done=%d total=%d s=%.0f", i + 1, len(files), time.perf_counter() - started)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=np.array(key), emb=out)
    return out


# -- scores


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cohort_stats(x: np.ndarray, cohort: np.ndarray, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each row's similarities to the cohort (its top_k only, when given).

    A row that is itself a cohort photo (cosine > 0.999) leaves that cohort entry out."""
    from service.matching.normalise import similarity_stats

    return similarity_stats(x, cohort, top_k)


class Scorer:
    """Distance-like scores (lower is closer) of one lever: raw, or normalised against the cohort."""

    def __init__(self, name: str, cohort: np.ndarray, mode: str, top_k: int | None, metric: str = "cosine"):
        self.name, self.cohort, self.mode, self.top_k, self.metric = name, cohort, mode, top_k, metric

    def sims(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return p @ g.T
        d = np.sqrt(np.maximum((p * p).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2 * p @ g.T, 0))
        return 1.0 - d

    def stats(self, x):
        if self.metric == "cosine":
            return cohort_stats(x, self.cohort, self.top_k)
        s = self.sims(x, self.cohort)
        s = np.where(s > 0.999, np.nan, s)
        if self.top_k:
            s = -np.sort(-np.nan_to_num(s, nan=-9), axis=1)[:, : self.top_k]
        return np.nanmean(s, 1), np.nanstd(s, 1) + 1e-6

    def z(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        s = self.sims(p, g)
        if self.mode == "raw":
            return s
        mp, sp = self.stats(p)
        zp = (s - mp[:, None]) / sp[:, None]
        if self.mode == "z":
            return zp
        mg, sg = self.stats(g)
        return 0.5 * (zp + (s - mg[None, :]) / sg[None, :])

    def distance(self, p, g) -> np.ndarray:
        return -self.z(p, g) if self.mode != "raw" else 1.0 - self.z(p, g)


def fused(scorers: list[Scorer], probes: list[np.ndarray], gallery: list[np.ndarray]) -> np.ndarray:
    """Sum-rule fusion of normalised scores; where an engine found no face (NaN) the others count alone."""
    zs = [s.z(p, g) for s, p, g in zip(scorers, probes, gallery)]
    stack = np.stack(zs)
    return -np.nanmean(stack, axis=0) * np.sqrt(np.sum(np.isfinite(stack), axis=0))


# -- calibration on half A, measurement on half B


def calibration_of(dist: np.ndarray) -> dict:
    """FAR table and fitted tail (the shape evidence.distance_at_far reads) from impostor distances."""
    from bench.open_set import FAR_GRID, FIT_RANGE

    dist = np.sort(dist[np.isfinite(dist)])
    n = dist.size
    table = [[float(far), float(np.quantile(dist, far))] for far in FAR_GRID if far * n >= 3]
    lo, hi = FIT_RANGE
    ks = np.arange(max(1, int(lo * n)), max(int(hi * n), int(lo * n) + 3))
    slope, _ = np.polyfit(dist[ks], np.log10((ks + 0.5) / n), 1)
    last_far, last_d = table[-1]
    return {"pairs": int(n), "table": table,
            "tail_fit": {"log10_far_slope": float(slope), "log10_far_intercept": float(np.log10(last_far) - slope * last_d)}}


def pair_distances(score_fn, a_idx: np.ndarray) -> np.ndarray:
    d = score_fn(a_idx, a_idx)
    return d[np.triu_indices(len(a_idx), k=1)]


def metrics(dist: np.ndarray, own: np.ndarray, gated: np.ndarray, cut: float) -> dict:
    usable = np.where(gated, np.inf, dist)
    wrong = np.where(own, np.inf, usable)
    best_wrong = wrong.min(1)
    own_d = np.where(own, usable, np.inf).min(1)
    has = own.any(1)
    hit = (own_d <= cut) & (own_d < best_wrong)
    return {"fnir": round(float(np.mean(~hit[has])), 4), "fpir": round(float(np.mean(best_wrong <= cut)), 4),
            "false_per_arrival": round(float(np.mean((wrong <= cut).sum(1))), 4)}


def curve_points(dist: np.ndarray, own: np.ndarray, gated: np.ndarray) -> dict:
    """FNIR at FPIR 0.03 and at 0.1 false candidates per arrival, read off the measured set's own curve."""
    usable = np.where(gated | own, np.inf, dist)
    best_wrong = np.sort(usable.min(1))
    cut_fpir = float(best_wrong[int(0.03 * len(best_wrong))] - 1e-9)
    wrong = np.sort(usable.ravel()[np.isfinite(usable.ravel())])
    k = int(0.1 * len(dist))
    cut_fc = float(wrong[k] - 1e-9) if k < len(wrong) else float("inf")
    a, b = metrics(dist, own, gated, cut_fpir), metrics(dist, own, gated, cut_fc)
    return {"fnir_at_fpir_0.03": a["fnir"], "fpir": a["fpir"], "fnir_at_0.1_false": b["fnir"],
            "false_per_arrival": b["false_per_arrival"]}


# -- the run

TOP_K = 100  # adaptive normalisation: the 100 cohort faces closest to the face
MODES = {"raw": ("raw", None), "z": ("z", None), "adaptive z": ("z", TOP_K), "s-norm": ("s", None),
         "adaptive s-norm": ("s", TOP_K)}


class Data:
    """The encoded photos, split into dev reports / arrivals and stranger halves A (cohort) and B."""

    def __init__(self, emb, emb_single, emb_tta4, dlib, labels, kinds, numbers, usable, sex_of):
        self.lab = np.array(labels)
        self.sex_of = sex_of
        dev = np.array([k == "dev" for k in kinds])
        num = np.array(numbers)
        # tta2: the engine's embedding (sface.py: YuNet's and dlib's points); single: one pass on YuNet's points
        # (the engine before tta2); tta4: those two and both mirrored.
        self.embs = {"single": emb_single if np.isfinite(emb_single).any() else emb, "tta2": emb,
                     "tta4": emb_tta4 if np.isfinite(emb_tta4).any() else emb}
        self.dlib = dlib
        self.usable = usable
        strangers = np.flatnonzero(~dev & usable)
        halves = np.array([half_of(labels[i]) for i in strangers])
        self.a, self.b, self.all_strangers = strangers[halves == "A"], strangers[halves == "B"], strangers
        self.reports = np.flatnonzero(dev & usable & (num == 1))
        self.arrivals = np.flatnonzero(dev & usable & (num != 1))
        self.num = num
        self.dev = dev

    def sexes(self, idx):
        return np.array([self.sex_of(self.lab[i]) if self.dev[i] else "unknown" for i in idx])


def scorer(data: Data, emb_name: str, mode_name: str, vectors: bool = False):
    """A lever's distance function over photo indices (or over vectors), cohort = half A."""
    x = data.embs[emb_name]
    mode, k = MODES[mode_name]
    s = Scorer(f"{emb_name}/{mode_name}", x[data.a], mode, k)
    if vectors:
        return s.name, x, s.distance
    return s.name, lambda p, g: s.distance(x[p], x[g])


def fusion_scorer(data: Data, mode_name: str) -> tuple[str, callable]:
    x = data.embs["tta2"]
    mode, k = MODES[mode_name]
    ok = data.a[np.isfinite(data.dlib[data.a]).all(1)]
    s1 = Scorer("sface", x[data.a], mode, k)
    s2 = Scorer("dlib", data.dlib[ok], mode, k, metric="euclidean")
    return f"tta2/{mode_name} + dlib", lambda p, g: fused([s1, s2], [x[p], data.dlib[p]], [x[g], data.dlib[g]])


def open_set_rows(data: Data, name: str, fn, sizes, gate: bool = True) -> list[dict]:
    from service.matching.evidence import distance_at_far

    calibration = calibration_of(pair_distances(fn, data.a))
    rows = []
    for label, pool, draws in sizes:
        acc: dict[str, list] = {}
        for seed in draws:
            chosen = pool if seed is None else pool[np.random.default_rng(seed).permutation(len(pool))[:label]]
            gallery = np.concatenate([data.reports, chosen])
            dist = fn(data.arrivals, gallery)
            own = data.lab[data.arrivals][:, None] == data.lab[gallery][None, :]
            ps, gs = data.sexes(data.arrivals), data.sexes(gallery)
            gated = ((ps[:, None] != gs[None, :]) & (gs[None, :] != "unknown")) if gate else np.zeros_like(own)
            entries = len(gallery)
            for target in (0.1, 0.03):
                cut = distance_at_far(calibration, target / entries)
                acc.setdefault(f"calibrated_{target}", []).append({**metrics(dist, own, gated, cut), "cut": round(cut, 4)})
            acc.setdefault("curve", []).append(curve_points(dist, own, gated))
        rows.append({"lever": name, "strangers": str(label), "entries": int(len(data.reports) + (len(pool) if draws == [None] else label)),
                     **{k: {m: round(float(np.mean([r[m] for r in v])), 4) for m in v[0]} for k, v in acc.items()}})
    return rows


def templates_rows(data: Data, name: str, x: np.ndarray, vf) -> list[dict]:
    """Several photos per person. Gallery side: report = photos 1 and 2, arrivals = photos 3+ (people with three
    or more). Arrival side: photos 3+ taken two at a time as one arrival, against the photo-1 reports."""
    ok = data.usable & data.dev
    people = [p for p in np.unique(data.lab[data.reports])
              if (ok & (data.lab == p) & (data.num >= 3)).any() and (ok & (data.lab == p) & (data.num == 2)).any()]
    first = np.array([np.flatnonzero(ok & (data.lab == p) & (data.num == 1))[0] for p in people])
    second = np.array([np.flatnonzero(ok & (data.lab == p) & (data.num == 2))[0] for p in people])
    arr = np.array([i for i in data.arrivals if data.lab[i] in set(people) and data.num[i] >= 3])
    stranger = x[data.b]
    own = data.lab[arr][:, None] == np.array(list(people) + [""] * len(data.b), dtype=object)[None, :]
    ps, gs = data.sexes(arr), np.concatenate([data.sexes(first), np.array(["unknown"] * len(data.b))])
    gated = (ps[:, None] != gs[None, :]) & (gs[None, :] != "unknown")
    to_strangers = vf(x[arr], stranger)
    d_one = np.concatenate([vf(x[arr], x[first]), to_strangers], axis=1)
    d_best = np.concatenate([np.minimum(vf(x[arr], x[first]), vf(x[arr], x[second])), to_strangers], axis=1)
    d_mean = np.concatenate([vf(x[arr], unit(x[first] + x[second])), to_strangers], axis=1)
    out = [{"lever": f"{name}: report {label}", "arrivals": int(len(arr)), **curve_points(d, own, gated)}
           for label, d in (("photo 1 only", d_one), ("photos 1+2, best of the two (service today)", d_best),
                            ("photos 1+2, one mean template", d_mean))]
    # Arrival side: pairs of arrival photos of the same person (3+4, 5+6, ...), gallery = photo-1 reports + B.
    pairs = [(i, j) for p in np.unique(data.lab[data.arrivals])
             for i, j in _pairs(sorted(data.arrivals[data.lab[data.arrivals] == p], key=lambda i: data.num[i]))]
    if pairs:
        pa, pb = np.array([i for i, _ in pairs]), np.array([j for _, j in pairs])
        gallery = np.concatenate([data.reports, data.b])
        own = data.lab[pa][:, None] == data.lab[gallery][None, :]
        ps, gs = data.sexes(pa), data.sexes(gallery)
        gated = (ps[:, None] != gs[None, :]) & (gs[None, :] != "unknown")
        single = vf(x[pa], x[gallery])
        best = np.minimum(single, vf(x[pb], x[gallery]))
        mean = vf(unit(x[pa] + x[pb]), x[gallery])
        out += [{"lever": f"{name}: arrival {label}", "arrivals": len(pairs), **curve_points(d, own, gated)}
                for label, d in (("one photo", single), ("two photos, best of the two (service today)", best),
                                 ("two photos, one mean template", mean))]
    return out


def _pairs(items):
    return [(items[k], items[k + 1]) for k in range(0, len(items) - 1, 2)]


def run(data: Data, started: float) -> dict:
    b_all = [(len(data.b), data.b, [None])]
    sizes = [(500, data.b, [1, 2, 3])] + b_all
    overlap = [(len(data.all_strangers), data.all_strangers, [None])]
    result = {"protocol": __doc__.split("\n\n", 1)[1].strip(), "cohort_A": int(len(data.a)), "measured_B": int(len(data.b)),
              "rows": [], "templates": []}
    levers = [scorer(data, e, m) for e in ("single", "tta2", "tta4") for m in MODES]
    if np.isfinite(data.dlib).any():
        levers += [fusion_scorer(data, "s-norm"), fusion_scorer(data, "z")]
    for name, fn in levers:
        result["rows"] += open_set_rows(data, name, fn, sizes + overlap)
        log.info("event=lever name=%s s=%.0f", name, time.perf_counter() - started)
    name, fn = scorer(data, "tta2", "raw")
    result["rows"] += open_set_rows(data, f"{name}, no sex gate", fn, b_all, gate=False)
    for emb_name, mode in (("single", "raw"), ("single", "s-norm"), ("tta2", "s-norm"), ("tta4", "s-norm")):
        result["templates"] += templates_rows(data, *scorer(data, emb_name, mode, vectors=True))
    return result


# -- what the service ships and scores with

SERVICE_MODE = "s"  # S-norm over the whole cohort: the lever that held its calibration best (see the levers table)


def service_cohort(emb: np.ndarray, cohort_idx: np.ndarray) -> np.ndarray:
    """Half A's embeddings as the service stores them (float16 file), read back as the service reads them."""
    return unit(emb[cohort_idx].astype(np.float16).astype(np.float32))


def service_calibration(engine, emb: np.ndarray, cohort_idx: np.ndarray) -> dict:
    """The calibration file: S-norm against half A; the impostor table from the pairs within half A."""
    from service.matching.normalise import normalised_distances, scale_of

    cohort = service_cohort(emb, cohort_idx)
    scale = scale_of(cohort)
    d = normalised_distances(cohort, cohort, cohort, SERVICE_MODE, None, *scale)
    raw = 1.0 - cohort @ cohort.T
    iu = np.triu_indices(len(cohort), k=1)
    return {"engine": engine.version,
            "source": "pairs of two strangers in half A of ../shared/faces-distractors (LFW; half = first byte of "
                      "sha256(name) even), S-norm against the same half (each face without itself); bench/open_set.py",
            "strangers": int(len(cohort)),
            "normalisation": {"mode": SERVICE_MODE, "top_k": None, "scale": {"mean": scale[0], "std": scale[1]},
                              "cohort": f"{engine.name}_cohort.npy"},
            **calibration_of(d[iu]), "raw": calibration_of(raw[iu])}


def service_distances(engine, calibration: dict | None):
    """The distance matrix the service computes for (probes, gallery): normalised when the calibration says so."""
    from service.matching.normalise import cohort_of, normalised_distances

    spec = (calibration or {}).get("normalisation")
    cohort = cohort_of(engine.name) if spec else None
    if cohort is None:
        return lambda p, g: 1.0 - p @ g.T
    return lambda p, g: normalised_distances(p, g, cohort, spec["mode"], spec.get("top_k"),
                                             spec["scale"]["mean"], spec["scale"]["std"])


def markdown(r: dict) -> list[str]:
    lines = ["", "## Levers (issue 12): measured on half B, calibrated on half A", "", r["protocol"], "",
             f"Cohort / calibration half A: {r['cohort_A']} strangers; measured half B: {r['measured_B']}. Rows with "
             f"{r['cohort_A'] + r['measured_B']} strangers hold half A as well (cohort members in the gallery): "
             "shown for the 2,000 target, not clean.", "",
             "| lever | strangers | calibrated 0.1: cut / FNIR / FPIR / false per arrival | calibrated 0.03: FNIR / FPIR / "
             "false per arrival | FNIR at FPIR 0.03 | FNIR at 0.1 false per arrival |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        a, b, c = row["calibrated_0.1"], row["calibrated_0.03"], row["curve"]
        lines.append(f"| {row['lever']} | {row['strangers']} | {a['cut']} / {a['fnir']} / {a['fpir']} / {a['false_per_arrival']} | "
                     f"{b['fnir']} / {b['fpir']} / {b['false_per_arrival']} | {c['fnir_at_fpir_0.03']} | {c['fnir_at_0.1_false']} |")
    lines += ["", "### Several photos per person (half B strangers in the gallery; curve points)", "",
              "| lever | arrivals | FNIR at FPIR 0.03 | FNIR at 0.1 false per arrival |", "|---|---|---|---|"]
    for row in r["templates"]:
        lines.append(f"| {row['lever']} | {row['arrivals']} | {row['fnir_at_fpir_0.03']} | {row['fnir_at_0.1_false']} |")
    return lines
