"""Domain words shown in pages, listed once so the catalog translates them (templates call _(value))."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

LABELS = [
    # roles
    _l("staff"), _l("supervisor"), _l("admin"),
    # sex
    _l("male"), _l("female"), _l("unknown"),
    # case states and identity
    _l("open"), _l("in_station"), _l("in_hospital"), _l("returned"), _l("transferred"), _l("settled"),
    _l("left"), _l("in_medical_care"), _l("deceased"), _l("self_reported"), _l("confirmed"),
    # referral
    _l("police"), _l("urban_management"), _l("patrol"), _l("citizen"), _l("hospital"), _l("self"), _l("other"),
    # categories
    _l("minor"), _l("elderly"), _l("disabled"), _l("mental_illness"), _l("intellectual_disability"), _l("ill"),
    _l("pregnant"), _l("suspected_lost"), _l("suspected_abandoned"), _l("suspected_trafficked"),
    # channels and their states
    _l("portal"), _l("toutiao"), _l("newspaper"), _l("dna"), _l("face"), _l("interview"),
    _l("not_started"), _l("in_progress"), _l("lead"), _l("no_result"), _l("not_applicable"),
    # matching state beside pending and done: a gallery shard did not answer (service/matching/scatter.py)
    _l("incomplete"),
    # photo states
    _l("pending"), _l("processed"), _l("no_face"), _l("multiple_faces"), _l("low_quality"), _l("invalid"),
    # field names (errors name the field)
    _l("name"), _l("gender"), _l("birth_date"), _l("age_min"), _l("age_max"), _l("id_number"), _l("found_at"),
    _l("found_place"), _l("found_lat"), _l("found_lng"), _l("referral"), _l("categories"), _l("photos"),
    _l("height_cm"), _l("marks"), _l("dialect"), _l("state"), _l("station_code"), _l("description"),
    _l("health_notes"), _l("hometown_hint"), _l("household_place"), _l("clothing"), _l("can_communicate"),
    _l("referring_officer"), _l("mental_state"), _l("languages"), _l("build"), _l("belongings"),
    _l("accommodation_zone"), _l("relatives_named"), _l("vagrancy_history"), _l("referral_handover_no"),
    # gallery, candidates, jobs (templates build these keys from values)
    _l("report.open"), _l("report.found"), _l("report.closed"), _l("band.likely"), _l("band.possible"),
    _l("band.None"), _l("candidate.pending"), _l("candidate.confirmed"), _l("candidate.rejected"),
    _l("job.import_reports"), _l("job.rematch"), _l("job.queued"), _l("job.running"), _l("job.done"), _l("job.failed"),
    _l("verdict.agree"), _l("verdict.disagree"), _l("verdict.unknown"),
    _l("age"), _l("hometown"), _l("place"), _l("family"), _l("import"), _l("done"),
    _l("est_age_min"), _l("est_age_max"), _l("dialect"), _l("found_place"), _l("birth_year"), _l("photo_url"),
    _l("source_name"), _l("note_status"),
    # family search (templates build these keys from rule codes, step kinds, fields, exits...)
    _l("rule.face_run"), _l("rule.portal_notice"), _l("rule.minor_notice_approval"), _l("rule.toutiao_push"), _l("rule.portal_lead_update"),
    _l("rule.toutiao_lead_update"), _l("rule.dna_request"), _l("rule.dna_result"), _l("rule.interview"), _l("rule.extension_approval"),
    _l("rule.notice_refresh"), _l("rule.settlement_review"), _l("rule.family_contact"), _l("rule.return_arranged"),
    _l("step.collected"), _l("step.held"), _l("step.posted"), _l("step.published"), _l("step.pushed"), _l("step.refreshed"),
    _l("step.requested"), _l("step.result"), _l("step.reviewed"), _l("step.run"), _l("step.withdrawn"), _l("step.note"),
    _l("field.area"), _l("field.candidate_id"), _l("field.candidates"), _l("field.clue_names"), _l("field.clue_places"), _l("field.decision"),
    _l("field.dialect"), _l("field.engine"), _l("field.notes"), _l("field.paper"), _l("field.police_office"), _l("field.post_id"),
    _l("field.published_on"), _l("field.pushed_at"), _l("field.radius_km"), _l("field.result"), _l("field.sample_id"), _l("field.url"),
    _l("exit.family_pickup"), _l("exit.escorted_home"), _l("exit.self_return"), _l("exit.transfer"),
    _l("exit.settlement"), _l("exit.left_voluntarily"), _l("exit.medical"), _l("exit.deceased"),
    _l("duty.extension_approved"), _l("duty.notice_approved"), _l("duty.settlement_review"), _l("duty.return_arranged"),
    _l("method.phone"), _l("method.visit"), _l("method.message"), _l("method.police"), _l("method.office"),
    _l("outcome.reached"), _l("outcome.no_answer"), _l("outcome.refused"), _l("outcome.will_pick_up"), _l("outcome.other"),
    _l("status"), _l("reason"), _l("kind"), _l("type"), _l("collector_id_number"), _l("collector_name"), _l("relation"), _l("destination"),
    _l("receiving_office"), _l("handover_person"), _l("method"), _l("outcome"), _l("channel"), _l("fields"),
    # street leads, patrols, campaigns (templates build these keys from values)
    _l("lead.open"), _l("lead.assigned"), _l("lead.on_site"), _l("lead.closed"), _l("outcome.brought_in"),
    _l("outcome.refused_help"), _l("outcome.not_found"), _l("outcome.referred_police"),
    _l("outcome.referred_hospital"), _l("outcome.duplicate"), _l("outcome.open"), _l("outcome.closed"),
    _l("check.pending"), _l("check.known"), _l("check.not_known"), _l("check.no_face"), _l("urgency.injured"),
    _l("urgency.cold"), _l("urgency.heat"), _l("urgency.minor"), _l("urgency.elderly"), _l("urgency.mental"),
    _l("source.patrol"), _l("source.grid_worker"), _l("source.social_worker"), _l("source.volunteer"),
    _l("source.driver"), _l("source.citizen"), _l("source.police"), _l("source.other"), _l("campaign.cold_wave"),
    _l("campaign.heat_wave"), _l("campaign.holiday"), _l("campaign.other"), _l("reporter"),
    # description matching, family verification, follow-ups (templates build these keys from values)
    _l("description"), _l("relative"), _l("village"), _l("clue.same"), _l("clue.homophone"), _l("clue.sounds_alike"),
    _l("clue.given_only"), _l("clue.partial"), _l("clue.differs"), _l("clue.county"), _l("clue.prefecture"),
    _l("clue.province"), _l("clue.same_place"), _l("clue.same_kind"), _l("clue.contradicts"), _l("clue.agree"),
    _l("clue.disagree"),
    _l("step.fingerprint_requested"), _l("step.fingerprint_result"), _l("field.police_record"),
    _l("evidence.dna_match"), _l("evidence.police_hukou"), _l("evidence.id_check"), _l("evidence.video_call"),
    _l("evidence.family_photos"), _l("followup.1w"), _l("followup.1m"), _l("followup.3m"),
    _l("outcome.settled_well"), _l("outcome.needs_support"), _l("outcome.left_home_again"), _l("outcome.unreachable"),
    _l("outcome.deceased"), _l("evidence"), _l("verification"),
    # why a family is not verified yet (service.domain.handover.verified)
    _l("no verification of the family is recorded"), _l("the verification names no evidence or no checker"),
    _l("a minor's family needs DNA or police confirmation and a second kind of evidence"),
    _l("a minor's handover needs a supervisor's approval"),
]


# Photo status reasons are codes (service/matching/photos.py, engine/subject.py, engine/quality.py);
# older rows may still hold the English sentences they replaced.
QUALITY_REASONS = {
    "too_small": _l("the face is too small"), "too_dark": _l("the face is too dark"),
    "too_bright": _l("the face is too bright"), "profile": _l("the face is turned away (profile)"),
    "blurry": _l("the face is blurred"),
}
PHOTO_REASONS = {
    "staff_chosen": _l("face chosen by staff"), "face chosen by staff": _l("face chosen by staff"),
    "file_missing": _l("the original file is missing from media storage"),
    "original file is missing from media storage": _l("the original file is missing from media storage"),
    "undecodable": _l("the image could not be read"), "no_face": _l("no face found"),
    "empty": _l("the file is empty"), "not_an_image": _l("the file is not an image"),
    "too_large": _l("the image is too large"), "corrupt": _l("the image is damaged or incomplete"),
    "bad_box": _l("the face box is outside the photo"), "encode_failed": _l("the face could not be encoded"),
    **QUALITY_REASONS,
}


def photo_reason(reason: str | None) -> str:
    """A photo's status reason in the user's language."""
    if not reason:
        return ""
    code, _sep, arg = reason.partition(":")
    count = int(arg) if arg.strip().isdigit() else None
    if code == "faces" and count is not None:
        return ngettext("%(num)d faces, none clearly the person's: each is searched until staff choose",
                        "%(num)d faces, none clearly the person's: each is searched until staff choose", count)
    if code == "auto_chosen" and count is not None:
        return ngettext("face chosen automatically among %(num)d", "face chosen automatically among %(num)d", count)
    if code == "failed" and count is not None:
        return ngettext("processing failed %(num)d time", "processing failed %(num)d times", count)
    if reason.endswith(" faces") and reason.split(" ", 1)[0].isdigit():  # before revision 0007
        return photo_reason("faces:" + reason.split(" ", 1)[0])
    if reason.startswith("image could not be decoded"):
        return str(PHOTO_REASONS["undecodable"])
    label = PHOTO_REASONS.get(reason)
    return str(label) if label is not None else _("other reason (%(code)s)", code=reason)
