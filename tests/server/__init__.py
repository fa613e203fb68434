"""Tests of ``llm codex serve``; shared hypothesis strategies live here."""

from hypothesis import strategies as st

#: Any JSON value, small: what a client might put in a field we do not expect.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
