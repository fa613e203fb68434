"""Credential files: validation, private atomic writes, bad input left untouched."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_codex.auth import store
from llm_codex.auth.store import SOURCE_CODEX_CLI, SOURCE_OWN
from llm_codex.core.errors import CredentialFileError

from .helpers import auth_document, id_token, make_jwt, snapshot, write_json

GOOD_TOKENS = {
    "id_token": id_token(account_id="acct-1"),
    "access_token": make_jwt({"exp": 2_000_000_000}),
    "refresh_token": "rt-1",
    "account_id": "acct-1",
}


def _parse(data, source=SOURCE_CODEX_CLI):
    raw = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return store.parse_login(raw, path=Path("/x/auth.json"), source=source)


def test_a_codex_cli_file_is_read_as_is():
    """A Codex CLI auth.json yields its tokens, account, plan and last refresh."""
    login = _parse(auth_document(GOOD_TOKENS))
    assert login.account_id == "acct-1"
    assert login.refresh_token == "rt-1"
    assert login.plan_type == "plus"
    assert login.last_refresh is not None
    assert "rt-1" not in repr(login)


def test_account_id_falls_back_to_the_id_token_claim():
    """A file without tokens.account_id still finds the account in the id token."""
    doc = auth_document({**GOOD_TOKENS, "account_id": None})
    assert _parse(doc).account_id == "acct-1"


BAD_DOCUMENTS = {
    "empty": ("", "is empty"),
    "blank": ("  \n", "is empty"),
    "malformed": ("{not json", "not valid JSON"),
    "not an object": ("[1, 2]", "JSON object"),
    "api key mode": (
        {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-x"},
        "needs a ChatGPT sign-in, not an API key",
    ),
    "api key without mode": ({"OPENAI_API_KEY": "sk-x", "tokens": None}, "not an API key"),
    "other mode": ({"auth_mode": "agentIdentity", "tokens": {}}, "sign-in mode 'agentIdentity'"),
    "no tokens": ({"auth_mode": "chatgpt", "tokens": None}, "holds no ChatGPT tokens"),
    "no access token": (
        auth_document({**GOOD_TOKENS, "access_token": ""}),
        "has no access token",
    ),
    "id token not a JWT": (
        auth_document({**GOOD_TOKENS, "id_token": "nope"}),
        "the id token is not a JWT",
    ),
    "id token without claims": (
        auth_document({**GOOD_TOKENS, "id_token": make_jwt([1, 2])}),
        "no readable claims",
    ),
    "no account": (
        auth_document({**GOOD_TOKENS, "id_token": id_token(account_id=None), "account_id": None}),
        "no ChatGPT account id",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_unusable_files_give_one_clear_sentence(case):
    """Each kind of broken credential file is refused with one sentence naming the file."""
    data, words = BAD_DOCUMENTS[case]
    with pytest.raises(CredentialFileError) as info:
        _parse(data)
    message = str(info.value)
    assert words in message
    assert "/x/auth.json" in message
    assert message.endswith(".") and "\n" not in message
    assert "sk-x" not in message


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_the_cli_reports_a_broken_file_and_leaves_it_alone(case, codex_backend):
    """`llm codex status` on a broken Codex CLI file: exit 1, one sentence, file untouched."""
    from click.testing import CliRunner
    from llm.cli import cli

    from llm_codex import config

    data, words = BAD_DOCUMENTS[case]
    path = write_json(config.codex_cli_auth_path(), data)
    before = snapshot(path)
    result = CliRunner().invoke(cli, ["codex", "status"])
    assert result.exit_code == 1
    assert words in result.output
    assert "Traceback" not in result.output
    assert snapshot(path) == before
    assert codex_backend.requests == []


def test_missing_files_mean_not_signed_in(tmp_path):
    """A missing file is simply absent, not an error."""
    assert store.read_login(tmp_path / "auth.json", source=SOURCE_CODEX_CLI) is None


def test_atomic_write_makes_a_private_file_in_a_private_folder(tmp_path):
    """Our credentials are written 0600 inside a 0700 folder, with no temp files left."""
    path = tmp_path / "state" / "auth.json"
    store.write_login(path, auth_document(GOOD_TOKENS), source=SOURCE_OWN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["auth.json"]
    assert store.read_login(path, source=SOURCE_OWN).refresh_token == "rt-1"


def test_a_too_open_folder_of_ours_is_tightened(tmp_path):
    """If our folder was created with group/other access, writing makes it 0700 again."""
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    store.write_login(folder / "auth.json", auth_document(GOOD_TOKENS), source=SOURCE_OWN)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_symlinked_folder_is_refused(tmp_path):
    """Our credentials are never read from or written through a symlinked folder."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    write_json(real / "auth.json", auth_document(GOOD_TOKENS))
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(CredentialFileError, match="symbolic link"):
        store.read_login(link / "auth.json", source=SOURCE_OWN)
    with pytest.raises(CredentialFileError, match="symbolic link"):
        store.write_login(link / "auth.json", auth_document(GOOD_TOKENS), source=SOURCE_OWN)


def test_a_symlinked_own_file_is_refused(tmp_path):
    """Our own credential file may not be a symlink to somewhere else."""
    folder = tmp_path / "state"
    target = write_json(tmp_path / "elsewhere.json", auth_document(GOOD_TOKENS))
    folder.mkdir(mode=0o700)
    (folder / "auth.json").symlink_to(target)
    with pytest.raises(CredentialFileError, match="symbolic link"):
        store.read_login(folder / "auth.json", source=SOURCE_OWN)


def test_an_own_file_readable_by_others_is_refused(tmp_path):
    """A world-readable own credential file is refused with the chmod that fixes it."""
    path = write_json(tmp_path / "state" / "auth.json", auth_document(GOOD_TOKENS), mode=0o644)
    before = snapshot(path)
    with pytest.raises(CredentialFileError, match="chmod 600"):
        store.read_login(path, source=SOURCE_OWN)
    assert snapshot(path) == before


def test_borrowed_file_keeps_its_mode_and_unknown_keys(tmp_path):
    """Writing back a Codex CLI file keeps its permissions and the keys we do not know."""
    doc = auth_document(GOOD_TOKENS)
    doc["future_field"] = {"keep": True}
    doc["tokens"]["extra"] = 1
    path = write_json(tmp_path / "codex" / "auth.json", doc, mode=0o640, dir_mode=0o755)
    login = store.read_login(path, source=SOURCE_CODEX_CLI)
    merged = store.merge_refreshed(login, {"access_token": "new-access", "refresh_token": None})
    store.write_login(path, merged, source=SOURCE_CODEX_CLI, mode=login.mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    written = json.loads(path.read_text())
    assert written["future_field"] == {"keep": True}
    assert written["tokens"]["extra"] == 1
    assert written["tokens"]["access_token"] == "new-access"
    assert written["tokens"]["refresh_token"] == "rt-1"  # absent field: kept
    assert store.MARKER_KEY not in written
    assert written["last_refresh"] != doc["last_refresh"]


def test_an_unwritable_folder_fails_cleanly_and_keeps_the_file(tmp_path, monkeypatch):
    """If the folder is read-only the write fails with one sentence and the old file stays."""
    path = write_json(tmp_path / "codex" / "auth.json", auth_document(GOOD_TOKENS))
    before = snapshot(path)
    os.chmod(path.parent, 0o500)
    if os.geteuid() == 0:  # root ignores permissions: simulate what the kernel would say

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(store, "_open_temp", refuse)
    try:
        with pytest.raises(CredentialFileError, match="cannot be written to"):
            store.check_writable(path)
        with pytest.raises(CredentialFileError, match="left as it was"):
            store.write_login(path, {"x": 1}, source=SOURCE_CODEX_CLI)
    finally:
        os.chmod(path.parent, 0o700)
    assert snapshot(path) == before


def test_the_lock_is_a_private_sidecar_file(tmp_path):
    """The refresh lock is <store>.lock, mode 0600, and stays in place after use."""
    path = tmp_path / "auth.json"
    with store.store_lock(path, timeout=1):
        pass
    lock = tmp_path / "auth.json.lock"
    assert lock.exists()
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_a_held_lock_times_out_with_a_clear_error(tmp_path):
    """Waiting too long for another refresher ends in RefreshInProgress."""
    import filelock

    from llm_codex.core.errors import RefreshInProgress

    path = tmp_path / "auth.json"
    holder = filelock.FileLock(str(path) + ".lock")
    with holder:
        with pytest.raises(RefreshInProgress, match="Another process"):
            with store.store_lock(path, timeout=0.2):
                pass


text_or_json = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
        max_leaves=15,
    ).map(json.dumps),
)

token_values = st.one_of(
    st.none(), st.integers(), st.text(max_size=30), st.just(GOOD_TOKENS["id_token"])
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "auth_mode": st.one_of(
            st.none(), st.sampled_from(["chatgpt", "apikey", "x"]), st.integers()
        ),
        "OPENAI_API_KEY": st.one_of(st.none(), st.text(max_size=5)),
        "tokens": st.one_of(
            st.none(),
            st.text(max_size=5),
            st.fixed_dictionaries(
                {},
                optional={
                    "id_token": token_values,
                    "access_token": token_values,
                    "refresh_token": token_values,
                    "account_id": token_values,
                },
            ),
        ),
        "last_refresh": st.one_of(st.none(), st.text(max_size=30), st.integers()),
        store.MARKER_KEY: st.one_of(st.none(), st.text(max_size=15)),
    },
).map(json.dumps)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(text_or_json, documents), st.sampled_from([SOURCE_OWN, SOURCE_CODEX_CLI]))
def test_parsing_any_file_content_raises_only_our_error(raw, source):
    """No file content can make reading a login crash with anything but CredentialFileError."""
    try:
        login = store.parse_login(raw, path=Path("/x/auth.json"), source=source)
    except CredentialFileError as exc:
        assert str(exc).endswith(".")
    else:
        assert login.access_token and login.account_id
