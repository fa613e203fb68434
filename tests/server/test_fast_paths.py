"""The server's fast paths give exactly what their general paths give."""

from __future__ import annotations

import logging
import uuid

from hypothesis import given
from hypothesis import strategies as st

from llm_codex.server.common import new_id
from llm_codex.server.middleware import HostCheck, host_allowed
from llm_codex.server.runner import _ClockFormatter
from llm_codex.server.settings import ServerSettings
from llm_codex.server.validation import _escaped, printable


@given(st.text(), st.integers(min_value=1, max_value=40))
def test_printable_fast_path_is_the_general_path(text, limit):
    """Short printable text is returned as is, which is what escaping it would give."""
    assert printable(text, limit) == _escaped(text, limit)


@given(st.lists(st.floats(min_value=0, max_value=4e9), min_size=1, max_size=20))
def test_access_log_clock_renders_what_the_standard_formatter_renders(times):
    """Each second's text is remembered, never another second's."""
    ours = _ClockFormatter("%(asctime)s %(message)s", "%H:%M:%S")
    standard = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for created in sorted(times) + times:
        record = logging.makeLogRecord({"msg": "line", "created": created})
        assert ours.format(record) == standard.format(record)
        msecs = created % 1 * 1000
        record = logging.makeLogRecord({"msg": "line", "created": created, "msecs": msecs})
        assert ours.formatTime(record) == standard.formatTime(record)  # with milliseconds


_HOSTS = st.sampled_from(
    [
        *(None, b"", b"localhost:8765", b"127.0.0.1", b"[::1]:1", b"evil.test", b"10.0.0.5:80"),
        *(b"box.lan", b"BOX.lan:9", b"192.168.1.20", b"127.9.9.9:5", b"[fe80::1]", b"\xff.test"),
    ]
)


@given(st.lists(_HOSTS, max_size=40), st.sampled_from(["127.0.0.1", "0.0.0.0", "192.168.1.20"]))
def test_host_check_remembers_the_verdicts_host_allowed_gives(headers, bound):
    """Every Host value, asked once or again, before or after the memory starts over."""
    settings = ServerSettings(host=bound, api_key="k", allowed_hosts=("box.lan",))
    check = HostCheck(None, settings=settings)
    check.REMEMBERED = 3
    for header in headers + headers:
        expected = host_allowed(header.decode("latin-1") if header else None, settings)
        assert check.allowed(header) is expected
    assert len(check._verdicts) <= 3


def test_new_ids_are_fresh_version_4_uuids_in_hex():
    """What ``uuid.uuid4().hex`` gives: 32 lower-case hex digits of a random UUID."""
    ids = [new_id("chatcmpl-") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for made in ids:
        tail = made.removeprefix("chatcmpl-")
        parsed = uuid.UUID(tail)
        assert parsed.hex == tail
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
