"""The Anthropic Messages API face of ``llm codex serve`` (for Claude Code and the SDKs).

:mod:`.translate` (request -> core request), :mod:`.encode` (core events -> message / SSE),
:mod:`.signature` (encrypted reasoning sealed in thinking signatures), :mod:`.errors` (the shared
error mapping in Anthropic's envelope), :mod:`.models` (Claude-style aliases, model list),
:mod:`.tokens` (local token counting), :mod:`.routes` (the handlers).
"""
