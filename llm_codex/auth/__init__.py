"""ChatGPT sign-in for the Codex backend: credential sources, safe refresh, login flows.

Importing this package is cheap: names are loaded on first use. Nothing here imports ``llm``.

::

    from llm_codex.auth import AuthManager, default_auth_manager
    mgr = default_auth_manager()   # a core.types.CredentialProvider
    mgr.current(); mgr.after_unauthorized(rejected); await mgr.acurrent(); mgr.status()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_codex.auth.login import LogoutResult, browser_login, device_login, logout
    from llm_codex.auth.manager import AuthManager, LoginStatus, default_auth_manager
    from llm_codex.auth.store import StoredLogin

__all__ = [
    "AuthManager",
    "LoginStatus",
    "LogoutResult",
    "StoredLogin",
    "browser_login",
    "default_auth_manager",
    "device_login",
    "logout",
]

_WHERE = {
    "AuthManager": "llm_codex.auth.manager",
    "LoginStatus": "llm_codex.auth.manager",
    "default_auth_manager": "llm_codex.auth.manager",
    "StoredLogin": "llm_codex.auth.store",
    "LogoutResult": "llm_codex.auth.login",
    "browser_login": "llm_codex.auth.login",
    "device_login": "llm_codex.auth.login",
    "logout": "llm_codex.auth.login",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_codex.auth' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
