"""The local OpenAI-compatible server (``llm codex serve``): a face over the core, like the plugin.

:func:`llm_codex.server.app.create_app` builds the ASGI app; :mod:`llm_codex.server.runner` runs
it with uvicorn (foreground or in a thread). Nothing here imports ``llm``.
"""
