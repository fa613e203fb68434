"""Which issuer and backend a stored login belongs to, and the rule that keeps it there.

A token only ever goes to the issuer that issued it and the backend it was obtained for. A login
is bound to:

- its **issuer**: the ``llm_codex_issuer`` field we write into our own file at sign-in, else
  the real issuer when its id (or access) token claims it (``iss`` = ``https://auth.openai.com``);
  a login with neither is not bound to any issuer;
- its **backend**: the ``llm_codex_backend`` field written at sign-in, else the default backend
  for a login of the default issuer; otherwise it is not bound to a backend.

:func:`foreign_reason` says (one sentence) why a login must not be used with the issuer and
backend configured now, or returns ``None``. A foreign login is never used, refreshed, revoked or
modified; the sentence names the login's issuer and how to sign in for this one.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llm_codex import config
from llm_codex.auth.tokens import jwt_claims
from llm_codex.core.errors import CredentialFileError, ForeignLogin

if TYPE_CHECKING:
    from llm_codex.auth.store import StoredLogin

__all__ = [
    "BACKEND_KEY",
    "ISSUER_KEY",
    "binding_fields",
    "foreign_issuer",
    "foreign_reason",
    "login_backend",
    "login_issuer",
    "refuse_foreign_own_login",
    "same_url",
]

#: Fields of OUR credential file recording where the login was obtained (the Codex CLI ignores
#: unknown keys, and we never add them to its file).
ISSUER_KEY = "llm_codex_issuer"
BACKEND_KEY = "llm_codex_backend"


@functools.lru_cache(maxsize=64)
def _normal(url: str) -> str:
    """A URL reduced for comparison: lower-case scheme and host, default port and slash dropped
    (remembered: the same few URLs are compared on every request)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.rstrip("/").lower()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def same_url(a: str, b: str) -> bool:
    """Whether two issuer or backend URLs name the same place."""
    return _normal(a) == _normal(b)


def _iss(token: object) -> str | None:
    try:
        value = jwt_claims(token).get("iss")
    except CredentialFileError:
        return None
    return value if isinstance(value, str) and value.strip() else None


def _recorded(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value.strip() else None


def login_issuer(login: StoredLogin) -> str | None:
    """The issuer a login was obtained from, or ``None`` when nothing says so.

    The field recorded at sign-in wins. Otherwise only a token claiming the real issuer binds
    the login (a real ChatGPT login must never leave it); a token of any other issuer without a
    recorded field (a test double's, whose servers may front each other; a hand-made one) is
    not bound to one.
    """
    recorded = _recorded(login.data, ISSUER_KEY)
    if recorded:
        return recorded
    for token in (login.id_token, login.access_token):
        claimed = _iss(token)
        if claimed is not None and same_url(claimed, config.DEFAULT_AUTH_URL):
            return claimed
    return None


def login_backend(login: StoredLogin) -> str | None:
    """The backend a login was obtained for, or ``None`` when it is not bound to one."""
    recorded = _recorded(login.data, BACKEND_KEY)
    if recorded:
        return recorded
    issuer = login_issuer(login)
    if issuer is not None and same_url(issuer, config.DEFAULT_AUTH_URL):
        return config.DEFAULT_BASE_URL
    return None


def binding_fields() -> dict[str, str]:
    """The fields recording the issuer and backend configured now, for a new own login."""
    return {ISSUER_KEY: config.auth_base_url(), BACKEND_KEY: config.backend_base_url()}


def _how_to_fix(login: StoredLogin) -> str:
    from llm_codex.auth.store import SOURCE_OWN

    if login.source == SOURCE_OWN:
        return (
            "to sign in there, set LLM_USER_PATH to another folder and run 'llm codex login' "
            "(or unset LLM_CODEX_AUTH_URL and LLM_CODEX_BASE_URL to use that login)"
        )
    return (
        "run 'llm codex login' to sign in there (or point CODEX_HOME at a Codex CLI login "
        "made for it)"
    )


def foreign_issuer(login: StoredLogin) -> str | None:
    """The login's issuer when it is not the configured one (so nothing may go there)."""
    issuer = login_issuer(login)
    if issuer is not None and not same_url(issuer, config.auth_base_url()):
        return issuer
    return None


def refuse_foreign_own_login(action: str) -> None:
    """Raise :class:`ForeignLogin` when our own file holds another issuer's login.

    ``action`` completes "… so 'llm codex <action>' leaves it alone" (login would replace it,
    logout would revoke it at the wrong server).
    """
    from llm_codex.auth.store import SOURCE_OWN, read_login

    path = config.own_auth_path()
    try:
        login = read_login(path, source=SOURCE_OWN, lenient_mode=True)
    except CredentialFileError:
        return
    issuer = foreign_issuer(login) if login is not None else None
    if issuer is None:
        return
    raise ForeignLogin(
        f"{path} holds a ChatGPT login issued by {issuer}, not by the sign-in server in use "
        f"({config.auth_base_url()}), so 'llm codex {action}' leaves it alone; set "
        "LLM_USER_PATH to another folder to keep a separate login, or unset LLM_CODEX_AUTH_URL "
        f"and run 'llm codex {action}' again."
    )


def foreign_reason(login: StoredLogin) -> str | None:
    """Why ``login`` must not be used with the configured issuer and backend, else ``None``."""
    issuer = foreign_issuer(login)
    current_issuer = config.auth_base_url()
    if issuer is not None:
        return (
            f"The ChatGPT login in {login.path} was issued by {issuer}, not by the sign-in "
            f"server in use ({current_issuer}), so it is not used here; "
            f"{_how_to_fix(login)}."
        )
    backend = login_backend(login)
    current_backend = config.backend_base_url()
    if backend is not None and not same_url(backend, current_backend):
        return (
            f"The ChatGPT login in {login.path} was made for the backend {backend}, not for "
            f"{current_backend} (LLM_CODEX_BASE_URL), so it is not sent there; "
            f"{_how_to_fix(login)}."
        )
    return None
