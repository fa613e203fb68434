"""The server's fast paths give exactly what their general paths give."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from llm_codex.server.runner import _ClockFormatter
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
