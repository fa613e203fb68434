"""pytest fixtures for llm-codex (placeholder until the fake backend lands)."""
