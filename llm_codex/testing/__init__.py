"""Test support for llm-codex: a faithful fake of the Codex backend and auth issuer.

``from llm_codex.testing import FakeCodexBackend`` (see :mod:`llm_codex.testing.backend` for the
whole scenario API). Importing this package is cheap: the server code loads on first use, so the
pytest plugin (``llm_codex.testing.pytest_plugin``, loaded in every pytest run) costs nothing
until a fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_codex.testing.authfile import write_auth_file
    from llm_codex.testing.backend import CLIENT_ID, FakeCodexBackend, RecordedRequest, tiny_png
    from llm_codex.testing.tokens import Identity, decode_claims

__all__ = [
    "CLIENT_ID",
    "FakeCodexBackend",
    "Identity",
    "RecordedRequest",
    "decode_claims",
    "tiny_png",
    "write_auth_file",
]

_WHERE = {
    "CLIENT_ID": "backend",
    "FakeCodexBackend": "backend",
    "RecordedRequest": "backend",
    "tiny_png": "backend",
    "Identity": "tokens",
    "decode_claims": "tokens",
    "write_auth_file": "authfile",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_codex.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"llm_codex.testing.{module}"), name)
    globals()[name] = value
    return value
