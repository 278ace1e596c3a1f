"""Log in, log out, choose the language."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import LOCALES
from ..extensions import limiter
from ..services import audit
from ..services.users import authenticate

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["HUIJIA"].login_rate_limit


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            audit.record_now(None, "login.failed", detail={"username_len": len(form.username.data or "")}, ip=request.remote_addr)
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session at login: no fixation
        login_user(user)
        audit.record_now(user.id, "login", "user", user.id, ip=request.remote_addr)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    # The session is a signed cookie: a copy of it would outlive logout_user(). Moving the version
    # ends every session of this user (every browser), so a copied cookie is worthless after logout.
    current_user.session_version += 1
    audit.record_now(current_user.id, "logout", "user", current_user.id, ip=request.remote_addr)  # commits
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/lang/<code>")
def set_language(code: str):
    if code in LOCALES:
        session["locale"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
