"""The official route's credentials: "Sign in with ChatGPT" (SIWC) plan usage (siwc.md).

A second route, not a second client: the login lives in its own files but follows the Codex
route's discipline (atomic 0600 writes in the 0700 folder, single-flight refresh under the
cross-process lock, re-read and adopt). Modules:

- :mod:`.files` — ``official.json`` (registration + tokens, bound to its issuer and API base)
  and ``host-id.json`` (this host's ``ext_agent_host_id``);
- :mod:`.issuer` — discovery, the token endpoint (exchange, refresh), revocation;
- :mod:`.idtoken` — ID-token verification against the issuer's JWKS (PyJWT, imported only here);
- :mod:`.login` — ``llm codex login --official`` and ``logout --official``;
- :mod:`.provider` — :class:`~.provider.OfficialAuth`, the credential provider of ``chatgpt/``
  models, with the ``earliest_refresh_at``-aware refresh, and the file-only status.

Nothing here runs when ``llm`` starts: the plugin imports these modules only to run a prompt.
"""
