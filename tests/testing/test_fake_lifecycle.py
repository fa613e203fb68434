"""Starting and stopping the fake: random ports, clean shutdown, no leaked threads."""

from __future__ import annotations

import threading

import httpx2 as httpx
import pytest

from llm_codex.testing import FakeCodexBackend

from .fake_helpers import Client, turn


def _fake_threads():
    return [t for t in threading.enumerate() if t.name.startswith("fake-codex")]


def test_start_stop_urls_and_no_leaked_threads():
    """A fake binds 127.0.0.1 on a free port and leaves no thread behind after stop()."""
    before = len(_fake_threads())
    fake = FakeCodexBackend().start()
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.port > 0
    assert fake.base_url == fake.url + "/backend-api/codex"
    fake.stop()
    fake.stop()  # idempotent
    assert len(_fake_threads()) == before


def test_two_fakes_get_different_ports():
    """Each fake has its own port and its own tokens."""
    with FakeCodexBackend() as one, FakeCodexBackend() as two:
        assert one.port != two.port


def test_stop_cuts_open_keepalive_and_streaming_connections():
    """stop() returns promptly even with an idle keep-alive connection and a slow stream open."""
    fake = FakeCodexBackend().start()
    client = Client(fake)
    client.post(turn())  # leaves an idle keep-alive connection in the pool
    fake.enqueue_slow("never finishes", delay=30)
    stream_client = httpx.Client(verify=False, timeout=30)
    errors = []

    def consume():
        try:
            with stream_client.stream(
                "POST", fake.base_url + "/responses", json=turn(), headers=client.headers()
            ) as response:
                for _ in response.iter_raw():
                    pass
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    while not fake.requests_to("/responses")[1:]:
        threading.Event().wait(0.01)
    fake.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert not _fake_threads()
    client.http.close()
    stream_client.close()


def test_stop_wakes_a_delayed_token_answer():
    """stop() does not wait for a long token_delay."""
    fake = FakeCodexBackend().start()
    tokens = fake.issue_tokens()
    fake.token_delay = 60
    http = httpx.Client(verify=False, timeout=0.2)
    try:
        http.post(
            fake.url + "/oauth/token",
            json={
                "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
            },
        )
    except httpx.ReadTimeout:
        pass
    fake.stop()
    assert not _fake_threads()
    http.close()


def test_issue_tokens_before_start_fails_clearly():
    """Using the fake before start() raises a clear error."""
    fake = FakeCodexBackend()
    try:
        fake.issue_tokens()
    except RuntimeError as exc:
        assert "not started" in str(exc)
    else:
        raise AssertionError("expected RuntimeError")


def test_concurrent_turns(fake):
    """Many threads streaming at once all get complete, correct answers."""
    client = Client(fake)
    results = {}

    def go(i):
        with httpx.Client(verify=False) as http:
            response = http.post(
                fake.base_url + "/responses", json=turn(f"n{i}"), headers=client.headers()
            )
            results[i] = response.text

    threads = [threading.Thread(target=go, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all("response.completed" in results[i] for i in range(16))
    assert len(fake.requests_to("/responses")) == 16
    client.http.close()


def test_restart_keeps_port_and_tokens():
    """After stop(), start() comes back on the same URL and still accepts earlier tokens."""
    fake = FakeCodexBackend().start()
    client = Client(fake)
    url = fake.url
    fake.stop()
    try:
        with pytest.raises(httpx.ConnectError):
            client.post(turn())
        fake.start()
        assert fake.url == url
        assert client.post(turn()).status_code == 200
    finally:
        fake.stop()
        client.http.close()


def test_chunked_request_body(fake):
    """A request body sent with chunked transfer encoding is read and recorded whole."""
    import json

    client = Client(fake)
    payload = json.dumps(turn("chunked")).encode()

    def pieces():
        for i in range(0, len(payload), 100):
            yield payload[i : i + 100]

    response = client.http.post(
        fake.base_url + "/responses",
        content=pieces(),
        headers={**client.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 200
    assert "You said: chunked" in response.text
    assert fake.requests[-1].headers["transfer-encoding"] == "chunked"
    client.http.close()
