"""Run the fake standalone: ``python -m llm_codex.testing --port N [--codex-home DIR]``.

Both routes are served: the Codex backend, and on a second port the official route's issuer
and public API (:class:`~llm_codex.testing.siwc_fake.FakeSiwc`), which is also the issuer URL of
both routes (it hands the Codex route's issuer paths to the Codex fake). Prints the environment
to export so llm-codex (or the real Codex CLI) talks to it, and with
``--codex-home`` writes ``DIR/auth.json`` in the Codex CLI format holding long-lived tokens the
fake accepts. Missing ``instructions`` are accepted unless ``--require-instructions`` is given
(Codex CLI 0.169.0 sends none). Ctrl-C (or SIGTERM) stops it cleanly.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path

from llm_codex.testing.authfile import write_auth_file
from llm_codex.testing.backend import FakeCodexBackend
from llm_codex.testing.prompt_words import PROMPT_WORDS
from llm_codex.testing.siwc_fake import FakeSiwc

_TEN_YEARS = 10 * 365 * 86400


def _snippet(
    fake: FakeCodexBackend, codex_home: Path | None, siwc: FakeSiwc, user_path: Path
) -> str:
    """What to paste into another shell: every line that is not an ``export`` is a comment,
    so the whole printout can be pasted at once."""
    q = shlex.quote
    home = str(codex_home) if codex_home else "$CODEX_HOME"
    if codex_home:
        codex_line = f"export CODEX_HOME={q(str(codex_home))}"
    else:
        codex_line = "# (pass --codex-home DIR to get a CODEX_HOME with an auth.json)"
    return f"""\
# Paste all of this into another shell (lines starting with # are comments).
# Environment for llm-codex; LLM_USER_PATH keeps the trial's logs, login and caches apart
# from your real ones:
export LLM_CODEX_BASE_URL={q(fake.base_url)}
export LLM_CODEX_AUTH_URL={q(siwc.url)}
export LLM_CODEX_API_URL={q(siwc.api_url)}
export LLM_USER_PATH={q(str(user_path))}
{codex_line}
# 'llm codex login --official' then signs in with the fake's official route.
#
# For the real Codex CLI, add these lines to {home}/config.toml:
#   model = "gpt-5.5"
#   model_provider = "llm-codex-fake"
#
#   [model_providers.llm-codex-fake]
#   name = "llm-codex fake backend"
#   base_url = "{fake.base_url}"
#   wire_api = "responses"
#   requires_openai_auth = true
#
# and, so that a token refresh also stays local:
export CODEX_REFRESH_TOKEN_URL_OVERRIDE={q(fake.url + "/oauth/token")}
export CODEX_REVOKE_TOKEN_URL_OVERRIDE={q(fake.url + "/oauth/revoke")}
#
# Prompt words that make the fake misbehave on purpose: {", ".join(PROMPT_WORDS)}
# (see README "Try it offline").
"""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the fake, print the environment, serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m llm_codex.testing", description="Run the fake Codex backend."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: random)")
    parser.add_argument(
        "--codex-home", type=Path, default=None, help="write a Codex CLI auth.json into DIR"
    )
    parser.add_argument(
        "--llm-user-path",
        type=Path,
        default=None,
        help="the LLM_USER_PATH to print (default: a new temporary folder)",
    )
    parser.add_argument("--account-id", default="acct-test")
    parser.add_argument("--email", default="user@example.com")
    parser.add_argument("--plan-type", default="plus")
    parser.add_argument(
        "--require-instructions",
        action="store_true",
        help="answer 400 'Instructions are required' when instructions are missing",
    )
    args = parser.parse_args(argv)

    fake = FakeCodexBackend(port=args.port, require_instructions=args.require_instructions)
    try:
        fake.start()
    except OSError as exc:
        print(f"Cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    siwc = FakeSiwc(fallback=fake._app).start()
    fake.access_token_ttl = _TEN_YEARS
    fake.set_login_identity(account_id=args.account_id, email=args.email, plan_type=args.plan_type)
    if args.codex_home is not None:
        tokens = fake.issue_tokens(
            account_id=args.account_id,
            email=args.email,
            plan_type=args.plan_type,
            access_ttl=_TEN_YEARS,
        )
        write_auth_file(args.codex_home / "auth.json", tokens, private_dir=False)
    user_path = args.llm_user_path or Path(tempfile.mkdtemp(prefix="llm-codex-trial-"))
    print(f"# Fake Codex backend listening on {fake.url}", flush=True)
    print(f"# Fake official route (issuer of both routes) on {siwc.url}", flush=True)
    home = args.codex_home.resolve() if args.codex_home else None
    print(_snippet(fake, home, siwc, user_path.resolve()), flush=True)
    print("# Press Ctrl-C to stop.", flush=True)

    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not done.wait(0.5):
            pass
    finally:
        siwc.stop()
        fake.stop()
    print("# Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
