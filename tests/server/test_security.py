"""Safe by default: API key, Host check, CORS, access log, one shared token refresh."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx2
import openai
import pytest

from llm_codex import config
from llm_codex.server.middleware import host_allowed
from llm_codex.server.settings import ServerSettings
from llm_codex.testing import write_auth_file

CHAT = {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}


def test_api_key_required_when_set(serve, codex_login):
    """With an API key every request needs it; /health does not."""
    server = serve(api_key="s3cret-key")
    base = server.url + "/v1"
    wrong = openai.OpenAI(base_url=base, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.chat.completions.create(**CHAT)
    assert info.value.code == "invalid_api_key"
    assert "s3cret-key" not in info.value.message
    assert httpx2.get(base + "/models").status_code == 401
    right = openai.OpenAI(base_url=base, api_key="s3cret-key", max_retries=0)
    assert right.chat.completions.create(**CHAT).choices[0].message.content
    health = httpx2.get(server.url + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "token" not in health.text.lower()


def test_foreign_host_header_refused(server, codex_login):
    """A request whose Host is not a loopback name is refused (DNS rebinding defence)."""
    url = server.url + "/v1/models"
    evil = httpx2.get(url, headers={"Host": "evil.example.com"})
    assert evil.status_code == 403
    assert evil.json()["error"]["code"] == "host_not_allowed"
    port = server.server.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx2.get(url, headers={"Host": host}).status_code == 200


def test_host_rules():
    """Allowed Hosts: loopback names, the bound address, --allow-host; IPs when on a wildcard."""
    local = ServerSettings()
    assert host_allowed("localhost:8765", local)
    assert not host_allowed("attacker.test", local)
    assert not host_allowed("10.0.0.5:8765", local)
    assert not host_allowed(None, local)
    lan = ServerSettings(host="192.168.1.20", api_key="k", allowed_hosts=("box.lan",))
    assert host_allowed("192.168.1.20:8765", lan)
    assert host_allowed("box.lan", lan)
    assert not host_allowed("10.0.0.5", lan)
    wildcard = ServerSettings(host="0.0.0.0", api_key="k")
    assert host_allowed("10.0.0.5:8765", wildcard)
    assert not host_allowed("rebind.attacker.test", wildcard)


def test_no_cors_by_default(server):
    """Without --cors-origin a browser gets no CORS permission."""
    r = httpx2.get(server.url + "/v1/models", headers={"Origin": "https://site.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = httpx2.options(
        server.url + "/v1/chat/completions",
        headers={"Origin": "https://site.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_when_origin_given(serve):
    """With --cors-origin that origin (only) may call the API from a browser."""
    server = serve(cors_origins=("https://app.example",), api_key="k")
    url = server.url + "/v1/chat/completions"
    pre = httpx2.options(
        url,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx2.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_line(client, codex_login):
    """Each request logs one line with method, path, model, status, timings and tokens."""
    # A handler on the access logger itself: 'llm codex serve' stops propagation to the root
    # logger (where caplog listens) once any test in this process has run the command.
    logger = logging.getLogger("llm_codex.server.access")
    records, level = _Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.INFO)
    try:
        client.chat.completions.create(**CHAT)
        # The line is written once the app returns, which may be just after the client has
        # read the whole answer: wait for it (bounded).
        deadline = time.monotonic() + 5
        while not records.lines and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    assert len(records.lines) == 1
    line = records.lines[0]
    assert '"POST /v1/chat/completions" 200 model=gpt-5.5' in line
    assert "ttfb=" in line and "dur=" in line
    assert "tokens=" in line and "tokens=-" not in line
    assert codex_login["access_token"] not in line


async def test_concurrent_streams_share_one_refresh(serve, codex_backend):
    """N concurrent requests with a token about to expire cause exactly one refresh."""
    tokens = codex_backend.issue_tokens(access_ttl=120)  # inside the 5-minute refresh window
    write_auth_file(config.own_auth_path(), tokens)
    server = serve()
    client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)

    async def one(n: int) -> str:
        stream = await client.chat.completions.create(
            model="gpt-5.5", messages=[{"role": "user", "content": f"n{n}"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    texts = await asyncio.gather(*(one(n) for n in range(8)))
    assert all(text.endswith(f"You said: n{n}") for n, text in enumerate(texts))
    assert codex_backend.refresh_count == 1
    assert len(codex_backend.requests_to("/oauth/token")) == 1


def test_shutdown_lets_open_streams_finish(serve, codex_login, codex_backend):
    """Stopping the server lets a stream that is already running finish."""
    import threading

    server = serve()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0)
    codex_backend.enqueue_slow(text="one two three four five six", delay=0.05)
    stream = client.chat.completions.create(
        model="gpt-5.5", messages=[{"role": "user", "content": "slow"}], stream=True
    )
    first = next(iter(stream))
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    rest = list(stream)
    stopper.join()
    text = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
    assert text == "one two three four five six"
    assert rest[-1].choices[0].finish_reason == "stop"
