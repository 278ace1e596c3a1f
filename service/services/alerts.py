"""Deadline sweep: record overdue steps as alerts (idempotent) and tell supervisors through a notifier.

The same notifiers tell operators (admins and supervisors) when the background work stops (services.liveness).
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import select

from ..domain.lifecycle import SEARCHING
from ..extensions import db
from ..models import Case, DeadlineAlert, User
from ..models.types import utcnow
from .family_search import overdue_steps

log = logging.getLogger(__name__)


class Notifier:
    """Where alerts go. The log always; e-mail when SMTP is configured."""

    def send(self, subject: str, body: str, recipients: list[str]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class LogNotifier(Notifier):
    def __init__(self):
        self.sent: list[tuple[str, str, list[str]]] = []

    def send(self, subject, body, recipients):
        self.sent.append((subject, body, recipients))
        log.info("event=alert_notified recipients=%d subject=%s", len(recipients), subject)


class SmtpNotifier(LogNotifier):
    def __init__(self, host: str, port: int, sender: str, user: str | None = None, password: str | None = None):
        super().__init__()
        self.host, self.port, self.sender, self.user, self.password = host, port, sender, user, password

    def send(self, subject, body, recipients):
        super().send(subject, body, recipients)
        if not recipients:
            return
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(recipients)
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.user:
                smtp.starttls()
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


def notifier_for(settings) -> Notifier:
    if getattr(settings, "smtp_host", None):
        return SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.smtp_sender, settings.smtp_user,
                            settings.smtp_password)
    return LogNotifier()


def sweep(now=None, notifier: Notifier | None = None, batch: int = 500) -> dict:
    """Find overdue steps of every open case; one alert per (case, rule, due time), however often run."""
    now = now or utcnow()
    notifier = notifier or LogNotifier()
    created, resolved = [], 0
    case_ids = db.session.scalars(select(Case.id).where(Case.state.in_(SEARCHING)).order_by(Case.id)).all()
    for start in range(0, len(case_ids), batch):
        for case in db.session.scalars(select(Case).where(Case.id.in_(case_ids[start:start + batch]))):
            current = {(s.rule_code, s.due_at): s for s in overdue_steps(case, now)}
            open_alerts = db.session.scalars(select(DeadlineAlert).where(
                DeadlineAlert.case_id == case.id, DeadlineAlert.resolved_at.is_(None))).all()
            known = {(a.rule_code, a.due_at) for a in open_alerts}
            for alert in open_alerts:
                if (alert.rule_code, alert.due_at) not in current:
                    alert.resolved_at = now  # done since, or no longer required
                    resolved += 1
            for key, step in current.items():
                if key in known or db.session.scalar(select(DeadlineAlert.id).where(
                        DeadlineAlert.case_id == case.id, DeadlineAlert.rule_code == step.rule_code,
                        DeadlineAlert.due_at == step.due_at)):
                    continue
                alert = DeadlineAlert(case_id=case.id, station_id=case.station_id, rule_code=step.rule_code,
                                      channel=step.channel, description=step.description, due_at=step.due_at)
                db.session.add(alert)
                created.append((case, alert))
        db.session.commit()
    _notify(created, notifier, now)
    return {"created": len(created), "resolved": resolved}


def _notify(created, notifier: Notifier, now) -> None:
    by_station: dict[int, list] = {}
    for case, alert in created:
        by_station.setdefault(case.station_id, []).append((case, alert))
    for station_id, items in by_station.items():
        recipients = [u.email for u in db.session.scalars(
            select(User).where(User.station_id == station_id, User.role == "supervisor", User.active.is_(True)))
            if u.email]
        lines = [f"{case.case_no}: {alert.rule_code} due {alert.due_at:%Y-%m-%d %H:%M} UTC" for case, alert in items]
        notifier.send(f"Huijia: {len(items)} overdue steps", "\n".join(lines), recipients)
        for _case, alert in items:
            alert.notified_at = now
    db.session.commit()


def open_alerts(actor: User):
    query = select(DeadlineAlert).where(DeadlineAlert.resolved_at.is_(None))
    if actor.role != "admin":
        query = query.where(DeadlineAlert.station_id == actor.station_id)
    return db.session.scalars(query.order_by(DeadlineAlert.due_at)).all()


def notify_operators(subject: str, body: str, notifier: Notifier) -> None:
    """Tell every active admin and supervisor: the background work is shared by all stations."""
    recipients = [u.email for u in db.session.scalars(
        select(User).where(User.role.in_(("admin", "supervisor")), User.active.is_(True))) if u.email]
    notifier.send(subject, body, recipients)
