"""llm-codex: use a ChatGPT plan's Codex models from llm, the OpenAI SDK and other tools.

Importing this package is cheap and does not import ``llm``: the ``llm`` hooks live in
:mod:`llm_codex.plugin`, the protocol and auth core in :mod:`llm_codex.core` and
:mod:`llm_codex.auth`, and the local server in :mod:`llm_codex.server`.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name == "__version__":
        from llm_codex.core.identity import version

        return version()
    raise AttributeError(name)
