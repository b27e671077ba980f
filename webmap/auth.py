"""Signing officers in and out (Flask-Login over server-side sessions), and bearer tokens for the
officer API. Follows flaskr's ``auth.py``: views here, a ``login_required`` decorator, and the
account on ``current_user.account`` (pages) or ``g.account`` (API).

The session cookie holds a random session id (``UserMixin.get_id``); the database keeps its
hash, last use and end, so signing out, disabling an account or a timeout ends it for certain.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from connectivity.errors import Forbidden, TooManyRequests, Unauthorized
from connectivity.officers import accounts
from connectivity.officers.models import Account

from .pages import add_lang, pull_lang
from .security import client_address, cookie_would_be_refused, insecure_explanation
from .workspace import orm_session, request_session

bp = Blueprint("auth", __name__)
bp.url_value_preprocessor(pull_lang)
bp.url_defaults(add_lang)
login_manager = LoginManager()


class User(UserMixin):
    """The signed-in officer: the account and the id of the server-side session."""

    def __init__(self, account: Account, session_id: str):
        self.account, self.session_id = account, session_id

    def get_id(self) -> str:
        return self.session_id


class SignInForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = StringField(validators=[Length(max=500)])


class SignOutForm(FlaskForm):
    pass


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load(session_id: str):
        settings = current_app.config["GAPMAP_SETTINGS"]
        with orm_session() as db:
            account = accounts.load_session(db, settings, session_id)
            db.commit()
        return User(account, session_id) if account is not None else None

    @login_manager.unauthorized_handler
    def unauthorized():
        lang = getattr(g, "lang", None) or current_app.config["GAPMAP_SETTINGS"].default_language
        return redirect(url_for("auth.sign_in", lang=lang, next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)
    return wrapped


def role_required(*roles: str):
    """Signed in with one of ``roles`` (else 404 for admin pages: no hint that they exist)."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.account.role not in roles:
                abort(404)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def current_account() -> Account:
    return current_user.account


@bp.route("/<lang>/sign-in", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if cookie_would_be_refused():  # say so before anyone types a password
        return render_template("sign_in.html", form=form, error="insecure"), \
            400 if request.method == "POST" else 200
    if request.method == "GET":
        return render_template("sign_in.html", form=form, error=None)
    if not form.validate_on_submit():
        return render_template("sign_in.html", form=form, error="missing"), 400
    db = request_session()
    try:
        result = accounts.sign_in(db, current_app.config["GAPMAP_SETTINGS"], form.email.data,
                                  form.password.data, client=client_address())
    except TooManyRequests as exc:
        db.commit()  # the attempt is counted and audited
        response = current_app.make_response(
            (render_template("sign_in.html", form=form, error="limited"), 429))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthorized:
        db.commit()
        return render_template("sign_in.html", form=form, error="wrong"), 401
    db.commit()
    session.clear()  # a new session at sign-in: nothing carried over
    login_user(User(result.account, result.session_id))
    session.permanent = True
    # The form token of the new session is made now, in the same cookie as the sign-in: the
    # cookie then never changes again while the officer works, so a slow response (a favicon)
    # still carrying the old cookie can never overwrite a newer one.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    generate_csrf()
    target = _safe_next(form.next.data) or url_for("officer.home", lang=result.account.lang)
    return redirect(target, code=303)


@bp.route("/<lang>/sign-out", methods=["GET", "POST"])
def sign_out():
    form = SignOutForm()
    if request.method == "POST" and form.validate_on_submit():
        if current_user.is_authenticated:
            db = request_session()
            accounts.sign_out(db, current_user.session_id, client=client_address())
            db.commit()
        logout_user()
        session.clear()
        return redirect(url_for("auth.sign_in", lang=g.lang, signed_out=1), code=303)
    if request.method == "POST":
        abort(400)
    return render_template("sign_out.html", form=form)


def token_required(view):
    """Officer API: ``Authorization: Bearer <token>``; the account on ``g.account``."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        db = request_session()
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("a valid API token is needed: send Authorization: Bearer <token>",
                                   "`connectivity users token EMAIL --name NAME` makes one")
            g.account = accounts.authenticate_token(db, token.strip(), client=client_address(),
                                                    route=request.path)
        finally:
            db.commit()
        return view(*args, **kwargs)
    return wrapped


def require_change_rights(account: Account) -> None:
    if not account.may_change:
        raise Forbidden("a viewer account is read-only")


def sign_in_texts() -> dict[str, str]:
    return {
        "wrong": _("That email address and password do not match an active account."),
        "missing": _("Enter your email address and password."),
        "limited": _("Too many failed attempts. Wait a while, then try again."),
        "insecure": insecure_explanation(),
    }
