"""Open-set scores of the candidates a search found: one template per person, normalised against strangers.

The index finds each probe face's nearest gallery faces by raw distance (top-k). Those owners are then scored
again, as bench/open_set.py measured it helps (bench/results/open_set.md, "levers"):
- one template per person: the mean of the owner's chosen faces (several photos of one person) on both sides;
  a face searched only because its photo is ambiguous (choice `plausible`) may be another person and is
  scored alone;
- S-norm against the engine's cohort of strangers (normalise.py; formula in service.domain.score_norm), put
  back on the distance scale, so that evidence.open_set_cuts can set the cuts for the gallery's size from
  the calibration measured on the same normalised scores.
An engine without a cohort file keeps the raw best-face distance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from ..domain import score_norm
from ..extensions import db
from ..models import Face
from . import evidence
from .normalise import cohort_of, similarity_stats


@dataclass
class Best:
    distance: float
    probe_face_id: int
    other_face_id: int
    raw_distance: float | None = None  # the closest face pair's own distance, before templates and normalisation


@dataclass(frozen=True)
class Normaliser:
    mode: str
    top_k: int | None
    scale: score_norm.Scale
    cohort: np.ndarray

    def stats(self, vector: np.ndarray) -> score_norm.CohortStats:
        mean, std = similarity_stats(vector[None, :], self.cohort, self.top_k)
        return score_norm.CohortStats(float(mean[0]), float(std[0]))


def normaliser_for(engine) -> Normaliser | None:
    """The engine's normalisation as calibrated, or None (no cohort shipped, or calibrated for another build)."""
    calibration = evidence.impostor_calibration(engine.name)
    spec = (calibration or {}).get("normalisation")
    if not spec or calibration.get("engine") != engine.version or engine.metric != "cosine":
        return None
    cohort = cohort_of(engine.name)
    if cohort is None:
        return None
    return Normaliser(spec["mode"], spec.get("top_k"), score_norm.Scale(spec["scale"]["mean"], spec["scale"]["std"]), cohort)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def templates_of(faces: list[tuple[Face, np.ndarray]]) -> list[tuple[np.ndarray, list[tuple[int, np.ndarray]]]]:
    """One template per person: the mean of the chosen faces, and each `plausible` face (maybe someone else) alone."""
    sure = [(f.id, v) for f, v in faces if f.choice != "plausible"]
    groups = [[(f.id, v)] for f, v in faces if f.choice == "plausible"]
    if sure:
        groups.insert(0, sure)
    return [(_unit(np.mean([v for _, v in g], axis=0)), g) for g in groups]


def owner_faces(keys, engine_version: str) -> dict[tuple[str, int], list[tuple[Face, np.ndarray]]]:
    """The chosen faces (with their vectors) of each gallery owner."""
    from .faces import usable_vectors

    out: dict[tuple[str, int], list] = {}
    for kind in {k for k, _ in keys}:
        ids = [o for k, o in keys if k == kind]
        faces = db.session.scalars(select(Face).where(
            Face.owner_kind == kind, Face.owner_id.in_(ids), Face.engine == engine_version,
            Face.selected.is_(True), Face.template_id.is_not(None))).all()
        for face, vector in usable_vectors(faces):
            out.setdefault((kind, face.owner_id), []).append((face, vector))
    return out


def rescore(engine, best: dict, probes: list[tuple[Face, np.ndarray]]) -> dict:
    """Each owner's open-set distance (see the module docstring); the face ids point at the closest pair."""
    normaliser = normaliser_for(engine)
    if normaliser is None or not best or not probes:
        return best
    probe_groups = [(t, g, normaliser.stats(t)) for t, g in templates_of(probes)]
    gallery = owner_faces(list(best), engine.version)
    out = {}
    for key, hit in best.items():
        faces = gallery.get(key)
        if not faces:
            continue  # erased or deselected since the search: not proposed
        scored = []
        for template, group in templates_of(faces):
            stats = normaliser.stats(template)
            for p_template, p_group, p_stats in probe_groups:
                distance = score_norm.normalised_distance(1.0 - float(p_template @ template), p_stats, stats,
                                                          normaliser.scale, normaliser.mode)
                scored.append((distance, p_group, group))
        distance, p_group, group = min(scored, key=lambda s: s[0])
        raw, probe_id, other_id = min((1.0 - float(pv @ gv), pid, gid) for pid, pv in p_group for gid, gv in group)
        out[key] = Best(distance, probe_id, other_id, raw)
    return out
