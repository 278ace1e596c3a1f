"""Which face a photo is about: the subject, chosen automatically when one face clearly dominates.

About one photo in eight shows a second face (a passer-by, a relative). Such a photo must still be
matched: faces that fail the quality check or are much smaller than the largest never compete, and
among the rest a face that clearly dominates by size or by being centred is chosen automatically
(staff can change it with one click). Only when no face dominates is the photo ambiguous: it is then
searched with every plausible face and waits for a person to choose.

Measured on ../shared/faces and ../shared/faces-distractors (bench/open_set.py, `subject` in
bench/results/open_set.json).
Pure function of the detected faces: no model, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# A face whose longer box side is below this fraction of the largest face's is a bystander in the
# background: it never competes for the subject.
PLAUSIBLE_FRACTION = 0.35
# The largest face dominates by size when every rival's side is at most this fraction of its own...
SIZE_DOMINANCE = 0.6
# ...or a face dominates by position when its centre is within CENTRED of the photo's centre (as a
# fraction of the photo's width and height) while every rival sits at least OFF_CENTRE away and is not
# much larger (RIVAL_MAX_SIZE). Photographers centre the person they photograph.
CENTRED = 0.15
OFF_CENTRE = 0.25
RIVAL_MAX_SIZE = 1.25
# A rival detected with a much lower score is often a poster, a reflection or a half-hidden face.
WEAK_DETECTION_GAP = 0.2

AUTO, ONLY, PLAUSIBLE, LOW_QUALITY = "auto", "only", "plausible", "low_quality"
# A photo whose subject fails the quality check is still searched with it when the fault leaves a usable
# embedding: a three-quarter or turned head and a soft focus still match on the dev set (distances 0.42-0.62 to
# the person's other photos). Tiny, crushed-dark or blown-out faces are not searched: their embeddings are noise.
SEARCHED_ANYWAY = ("profile", "blurry")


@dataclass(frozen=True)
class Judgement:
    """The photo's status and reason code, and which faces are matched.

    `subject` is the index of the face the photo is about (None when ambiguous or unusable);
    `plausible` the faces searched while the photo waits for a person (ambiguous photos only);
    `choice` how the subject was found: `only` (the one usable face), `auto` (dominant among several) or
    `low_quality` (the subject fails the quality check but is still searched, flagged for the reviewer).
    """

    status: str
    reason: str | None = None
    subject: int | None = None
    plausible: tuple[int, ...] = field(default_factory=tuple)
    choice: str | None = None


def _side(face) -> float:
    return float(max(face.box[2], face.box[3]))


def centre_offset(face, width: int, height: int) -> float:
    """Distance of the face's centre from the photo's centre, in photo widths and heights."""
    x, y, w, h = face.box
    dx = (x + w / 2 - width / 2) / max(width, 1)
    dy = (y + h / 2 - height / 2) / max(height, 1)
    return float((dx * dx + dy * dy) ** 0.5)


def _dominant(contenders: list[int], faces, width: int, height: int) -> int | None:
    size = {i: _side(faces[i]) for i in contenders}
    offset = {i: centre_offset(faces[i], width, height) for i in contenders}
    score = {i: float(faces[i].det_score) for i in contenders}
    # Rivals detected much less surely than the best face do not compete.
    best_score = max(score.values())
    strong = [i for i in contenders if score[i] >= best_score - WEAK_DETECTION_GAP]
    if len(strong) == 1:
        return strong[0]
    largest = max(strong, key=lambda i: size[i])
    rivals = [i for i in strong if i != largest]
    # By size, unless a rival is the centred face and the largest is off to the side (a passer-by close to the lens).
    if all(size[i] <= SIZE_DOMINANCE * size[largest] for i in rivals) and not any(
        offset[i] <= CENTRED and offset[largest] > OFF_CENTRE for i in rivals
    ):
        return largest
    centred = min(strong, key=lambda i: offset[i])
    if offset[centred] <= CENTRED and all(
        offset[i] >= OFF_CENTRE and size[i] <= RIVAL_MAX_SIZE * size[centred] for i in strong if i != centred
    ):
        return centred
    return None


def _low_quality(faces: list, subject: int) -> Judgement:
    reason = faces[subject].quality_reason
    if reason in SEARCHED_ANYWAY:
        return Judgement("low_quality", reason, subject, (), LOW_QUALITY)
    return Judgement("low_quality", reason)


def judge(faces: list, width: int, height: int) -> Judgement:
    """Status, reason code and subject of a photo from its faces (largest first)."""
    if not faces:
        return Judgement("no_face")
    largest = max(_side(f) for f in faces)
    plausible = [i for i, f in enumerate(faces) if _side(f) >= PLAUSIBLE_FRACTION * largest]
    contenders = [i for i in plausible if faces[i].quality_ok]
    if not contenders:
        return _low_quality(faces, 0)
    # A centred face that fails quality while the usable face is off to the side: the photo is about the
    # unusable face (a turned head, a blur); matching the bystander instead would search for a stranger.
    failing_centred = [i for i in plausible if not faces[i].quality_ok and centre_offset(faces[i], width, height) <= CENTRED]
    if len(contenders) == 1:
        only = contenders[0]
        if failing_centred and centre_offset(faces[only], width, height) >= OFF_CENTRE:
            return _low_quality(faces, failing_centred[0])
        if len(plausible) == 1:
            return Judgement("processed", None, only, (), ONLY)
        return Judgement("processed", f"auto_chosen:{len(plausible)}", only, (), AUTO)
    subject = _dominant(contenders, faces, width, height)
    if subject is not None:
        if failing_centred and centre_offset(faces[subject], width, height) >= OFF_CENTRE:
            return _low_quality(faces, failing_centred[0])
        return Judgement("processed", f"auto_chosen:{len(plausible)}", subject, (), AUTO)
    return Judgement("multiple_faces", f"faces:{len(contenders)}", None, tuple(contenders), PLAUSIBLE)
