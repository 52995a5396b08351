"""vae.hub and training/push_to_hub.py against a stand-in Hub served over real HTTP on 127.0.0.1.

The stand-in answers what huggingface_hub 2.4 asks: HEAD/GET of ``/{repo}/resolve/{rev}/{file}``
(with X-Repo-Commit, ETag and Content-Length, and X-Error-Code on 404s), and for pushing
``/api/repos/create``, ``/api/validate-yaml``, ``/api/models/{repo}/preupload|commit|branch``.
It asks for every file to be uploaded in "regular" mode (base64 inside the commit), so the
LFS/Xet transfer that the real Hub uses for large files is not exercised.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import pytest
import torch

from vae import hub
from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, save_model
from vae.hub import HubAccess, SourceInfo, load_model, push_model
from vae.model import PRESETS, MusicVAE, set_seed

ROOT = Path(__file__).resolve().parents[1]
REPO = "someone/melody-knobs"


# ----------------------------------------------------------------------------- the stand-in Hub


class FakeHub:
    """Repos of commits in memory; ``head_delay`` / ``get_delay`` make it slow."""

    def __init__(self) -> None:
        self.url = ""
        self.repos: dict[str, dict] = {}  # repo -> {"branches": {name: sha}, "commits": {sha: {path: bytes}}}
        self.requests: list[tuple[str, str]] = []
        self.head_delay = 0.0
        self.get_delay = 0.0
        self.release = threading.Event()  # set at teardown so that slow answers stop waiting
        self._counter = itertools.count()

    def commit(self, repo: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Add a commit of ``files`` on top of ``branch``; returns its sha."""
        entry = self.repos.setdefault(repo, {"branches": {}, "commits": {}})
        parent = entry["branches"].get(branch)
        tree = dict(entry["commits"][parent]) if parent else {}
        tree.update(files)
        sha = hashlib.sha1(f"{repo}:{branch}:{next(self._counter)}".encode()).hexdigest()
        entry["commits"][sha] = tree
        entry["branches"][branch] = sha
        return sha

    def commit_folder(self, repo: str, folder: Path, branch: str = "main") -> str:
        return self.commit(repo, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}, branch)


def _handler(state: FakeHub) -> type[BaseHTTPRequestHandler]:
    resolve = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
    api = re.compile(r"^/api/models/([^/]+/[^/]+)/(preupload|commit|branch)/(.+)$")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _send(self, code: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _json(self, code: int, data: dict, headers: dict | None = None) -> None:
            self._send(code, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _resolve(self, head: bool) -> None:
            state.requests.append(("HEAD" if head else "GET", self.path))
            state.release.wait(state.head_delay if head else state.get_delay)
            match = resolve.match(self.path.split("?")[0])
            if not match:
                return self._send(404, head=head)
            repo, rev, name = match.group(1), unquote(match.group(2)), unquote(match.group(3))
            if repo not in state.repos:
                return self._send(404, b"Repository not found", {"X-Error-Code": "RepoNotFound"}, head)
            entry = state.repos[repo]
            sha = entry["branches"].get(rev, rev if rev in entry["commits"] else None)
            if sha is None:
                return self._send(404, b"Revision not found", {"X-Error-Code": "RevisionNotFound"}, head)
            if name not in entry["commits"][sha]:
                return self._send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha},
                                  head)
            body = entry["commits"][sha][name]
            headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
                       "Content-Type": "application/octet-stream"}
            self._send(200, body, headers, head)

        def do_HEAD(self) -> None:
            self._resolve(head=True)

        def do_GET(self) -> None:
            self._resolve(head=False)

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = self.path.split("?")[0]
            if path == "/api/repos/create":
                payload = json.loads(body)
                repo = f"{payload['organization']}/{payload['name']}"
                if repo in state.repos:
                    return self._json(409, {"error": "You already created this model repo",
                                            "url": f"{state.url}/{repo}"})
                state.commit(repo, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
                return self._json(200, {"url": f"{state.url}/{repo}"})
            if path == "/api/validate-yaml":
                return self._json(200, {"errors": [], "warnings": []})
            match = api.match(path)
            if not match or match.group(1) not in state.repos:
                return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            repo, action, rev = match.group(1), match.group(2), unquote(match.group(3))
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                  for f in files]})
            if action == "branch":
                if rev in state.repos[repo]["branches"]:
                    return self._json(409, {"error": "Branch already exists"})
                state.repos[repo]["branches"][rev] = state.repos[repo]["branches"]["main"]
                return self._json(200, {})
            files = {}
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            sha = state.commit(repo, files, branch=rev)
            return self._json(200, {"commitUrl": f"{state.url}/{repo}/commit/{sha}", "commitOid": sha,
                                    "pullRequestUrl": None})

    return Handler


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """A running stand-in Hub; HF_ENDPOINT points at it and the Hub cache lives in tmp_path."""
    state = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("HF_ENDPOINT", state.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    for name in ("HF_HUB_CACHE", "HF_TOKEN", hub.ENV_MODEL, hub.ENV_REVISION):
        monkeypatch.delenv(name, raising=False)
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------- models and folders


def _tiny(seed: int) -> MusicVAE:
    set_seed(seed)
    return MusicVAE(PRESETS["tiny"]).eval()


def _same_weights(a: MusicVAE, b: MusicVAE) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def bundled(monkeypatch, tmp_path) -> MusicVAE:
    """A tiny model saved as the bundled fallback (the real assets/model may not exist yet)."""
    model = _tiny(seed=123)
    save_model(model, tmp_path / "bundled")
    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path / "bundled")
    monkeypatch.delenv(hub.ENV_MODEL, raising=False)
    monkeypatch.delenv(hub.ENV_REVISION, raising=False)
    return model


@pytest.fixture
def saved(tmp_path) -> tuple[MusicVAE, Path]:
    model = _tiny(seed=0)
    return model, save_model(model, tmp_path / "saved")


# ----------------------------------------------------------------------------- local folders


def test_save_then_load_folder_gives_the_same_model(saved, tmp_path):
    model, folder = saved
    (tmp_path / "dims.json").write_text('{"pitch": [3, 7]}')
    save_model(model, folder, extra_files={"dims.json": tmp_path / "dims.json", "README.md": "# tiny\n"})
    loaded = load_model(folder)
    assert loaded.source_info.source == "local" and loaded.source_info.fallback_reason is None
    assert loaded.config == model.config and not loaded.training
    tokens = torch.randint(0, 130, (4, 32), generator=torch.Generator().manual_seed(0))
    mu, logvar = model.encode(tokens)
    mu2, logvar2 = loaded.encode(tokens)
    assert torch.allclose(mu, mu2) and torch.allclose(logvar, logvar2)
    assert torch.equal(model.decode(mu), loaded.decode(mu2))
    assert (folder / "dims.json").read_text() == '{"pitch": [3, 7]}'
    assert (folder / "README.md").read_text() == "# tiny\n"


def test_save_model_refuses_bad_extra_file_names(saved, tmp_path):
    model, _ = saved
    for name in ("config.json", "../escape.txt", "sub/dir.txt"):
        with pytest.raises(ValueError, match="plain file names"):
            save_model(model, tmp_path / "out", extra_files={name: "x"})


def test_source_order_argument_then_env_then_bundled(bundled, saved, monkeypatch):
    _, folder = saved
    assert load_model().source_info.source == "bundled"
    assert _same_weights(load_model(), bundled)
    monkeypatch.setenv(hub.ENV_MODEL, str(folder))
    assert load_model().source_info == SourceInfo(requested=str(folder), source="local", path=str(folder.resolve()))
    assert load_model(hub.BUNDLED_DIR).source_info.source == "local"  # the argument wins over the env var


def test_missing_bundled_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no bundled weights"):
        load_model(bundled_dir=tmp_path / "nothing-here")


@pytest.mark.parametrize("damage, message", [
    ("no-weights", "has no model.safetensors"),
    ("corrupt", "not a readable safetensors"),
    ("unknown-field", "unknown config fields"),
    ("wrong-shape", "do not fit config.json"),
])
def test_bad_local_folder_falls_back_or_raises(bundled, saved, damage, message, caplog):
    _, folder = saved
    if damage == "no-weights":
        (folder / WEIGHTS_FILE).unlink()
    elif damage == "corrupt":
        (folder / WEIGHTS_FILE).write_bytes(b"\x00" * 64)
    else:
        config = json.loads((folder / CONFIG_FILE).read_text())
        config.update({"attention": True} if damage == "unknown-field" else {"latent_dim": 8})
        (folder / CONFIG_FILE).write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="vae.hub"):
        model = load_model(folder)
    assert model.source_info.source == "bundled" and message in model.source_info.fallback_reason
    assert _same_weights(model, bundled)
    assert any(message in record.getMessage() for record in caplog.records)
    with pytest.raises((OSError, ValueError), match=message):
        load_model(folder, fallback=False)


# ----------------------------------------------------------------------------- the Hub over HTTP


def test_load_from_hub_over_http(fake_hub, saved, tmp_path):
    model, folder = saved
    first = fake_hub.commit_folder(REPO, folder)
    loaded = load_model(REPO)
    info = loaded.source_info
    assert (info.source, info.repo_id, info.revision, info.from_cache) == ("hub", REPO, first, False)
    assert _same_weights(loaded, model) and not loaded.training
    assert ("HEAD", f"/{REPO}/resolve/main/config.json") in fake_hub.requests
    assert ("GET", f"/{REPO}/resolve/{first}/model.safetensors") in fake_hub.requests

    other = _tiny(seed=1)
    second = fake_hub.commit_folder(REPO, save_model(other, tmp_path / "other"))
    latest = load_model(REPO)
    assert _same_weights(latest, other) and latest.source_info.revision == second
    pinned = load_model(REPO, revision=first)
    assert _same_weights(pinned, model) and pinned.source_info.revision == first


def test_revision_from_env(fake_hub, saved, monkeypatch):
    model, folder = saved
    first = fake_hub.commit_folder(REPO, folder)
    fake_hub.commit(REPO, {WEIGHTS_FILE: b"broken"})
    monkeypatch.setenv(hub.ENV_MODEL, REPO)
    monkeypatch.setenv(hub.ENV_REVISION, first)
    loaded = load_model(fallback=False)
    assert loaded.source_info.revision == first and _same_weights(loaded, model)


def test_hub_cache_is_used_when_the_hub_is_down(fake_hub, saved, monkeypatch):
    model, folder = saved
    sha = fake_hub.commit_folder(REPO, folder)
    load_model(REPO, fallback=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    loaded = load_model(REPO, fallback=False, access=HubAccess(timeout=2))
    assert loaded.source_info.from_cache and loaded.source_info.revision == sha
    assert _same_weights(loaded, model)
    assert "local cache" in loaded.source_info.describe()


def _corrupt(fake_hub, folder):
    fake_hub.commit(REPO, {CONFIG_FILE: (folder / CONFIG_FILE).read_bytes(), WEIGHTS_FILE: b"not safetensors"})


def _misfit(fake_hub, folder):
    config = json.loads((folder / CONFIG_FILE).read_text()) | {"enc_hidden": 48}
    fake_hub.commit(REPO, {CONFIG_FILE: json.dumps(config).encode(), WEIGHTS_FILE: (folder / WEIGHTS_FILE).read_bytes()})


def _unknown_field(fake_hub, folder):
    config = json.loads((folder / CONFIG_FILE).read_text()) | {"attention_heads": 4}
    fake_hub.commit(REPO, {CONFIG_FILE: json.dumps(config).encode(), WEIGHTS_FILE: (folder / WEIGHTS_FILE).read_bytes()})


def _no_weights(fake_hub, folder):
    fake_hub.commit(REPO, {CONFIG_FILE: (folder / CONFIG_FILE).read_bytes()})


def _refused(fake_hub, folder, monkeypatch):
    fake_hub.commit_folder(REPO, folder)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")


class HubFailure(NamedTuple):
    """One way for the Hub to fail: what the fake Hub is made to hold, what is asked of it, what the user reads."""

    setup: Callable | None  # (fake_hub, folder[, monkeypatch]) -> None
    repo: str
    revision: str | None
    message: str


@pytest.mark.parametrize("case", [
    HubFailure(_refused, REPO, None, "could not be reached"),
    HubFailure(None, "nobody/unknown-repo", None, "there is no repository 'nobody/unknown-repo'"),
    HubFailure(lambda hub_, folder: hub_.commit_folder(REPO, folder), REPO, "v9", "has no revision 'v9'"),
    HubFailure(_corrupt, REPO, None, "not a readable safetensors"),
    HubFailure(_misfit, REPO, None, "do not fit config.json"),
    HubFailure(_unknown_field, REPO, None, "unknown config fields ['attention_heads']"),
    HubFailure(_no_weights, REPO, None, "has no model.safetensors at revision"),
], ids=["connection-refused", "unknown-repo", "unknown-revision", "corrupt-safetensors", "config-misfit",
        "unknown-config-field", "missing-weights"])
def test_hub_failures_fall_back_to_bundled(fake_hub, bundled, saved, monkeypatch, caplog, case):
    setup, repo, revision, message = case
    _, folder = saved
    if setup is _refused:
        setup(fake_hub, folder, monkeypatch)
    elif setup is not None:
        setup(fake_hub, folder)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="vae.hub"):
        model = load_model(repo, revision=revision, access=HubAccess(timeout=2))
    assert time.monotonic() - start < 5
    info = model.source_info
    assert info.source == "bundled" and info.requested == repo
    assert message in info.fallback_reason, info.fallback_reason
    assert message in info.describe()
    assert _same_weights(model, bundled)
    assert any("falling back" in record.getMessage() and message in record.getMessage() for record in caplog.records)
    with pytest.raises((OSError, ValueError), match=re.escape(message)):
        load_model(repo, revision=revision, fallback=False, access=HubAccess(timeout=2))


@pytest.mark.parametrize("slow", ["head", "get"])
def test_slow_hub_falls_back_within_seconds(fake_hub, bundled, saved, slow):
    _, folder = saved
    fake_hub.commit_folder(REPO, folder)
    if slow == "head":
        fake_hub.head_delay = 30.0
    else:
        fake_hub.get_delay = 30.0
    start = time.monotonic()
    model = load_model(REPO, access=HubAccess(timeout=1.0, download_timeout=1.5))
    elapsed = time.monotonic() - start
    assert elapsed < 4, f"fallback took {elapsed:.1f} s"
    assert model.source_info.source == "bundled"
    expected = "did not answer within 1 s" if slow == "head" else "took longer than 1.5 s"
    assert expected in model.source_info.fallback_reason
    fake_hub.release.set()  # let the abandoned download finish while the server is still up
    for thread in threading.enumerate():
        if thread.name.startswith("melody-knobs-download"):
            thread.join(timeout=10)


def test_hub_failure_without_bundled_weights_reports_both(fake_hub, tmp_path):
    with pytest.raises(OSError, match="there is no repository.*bundled fallback failed too.*no bundled weights"):
        load_model("nobody/nothing", bundled_dir=tmp_path / "empty", access=HubAccess(timeout=2))


# ----------------------------------------------------------------------------- pushing


def test_push_then_load_round_trip(fake_hub, saved):
    model, folder = saved
    result = push_model(folder, "someone/pushed", commit_message="first weights")
    assert re.fullmatch(r"[0-9a-f]{40}", result.commit)
    assert result.commit_url == f"{fake_hub.url}/someone/pushed/commit/{result.commit}"
    assert set(fake_hub.repos["someone/pushed"]["commits"][result.commit]) >= {CONFIG_FILE, WEIGHTS_FILE, "README.md"}
    loaded = load_model("someone/pushed", fallback=False)
    assert _same_weights(loaded, model) and loaded.source_info.revision == result.commit

    other = _tiny(seed=5)
    save_model(other, folder)
    branch = push_model(folder, "someone/pushed", revision="experiment")  # repo exists: exist_ok
    assert branch.revision == "experiment"
    assert _same_weights(load_model("someone/pushed", revision="experiment", fallback=False), other)
    assert _same_weights(load_model("someone/pushed", fallback=False), model)  # main is untouched


def test_push_refuses_a_bad_folder_before_any_request(fake_hub, saved):
    _, folder = saved
    (folder / WEIGHTS_FILE).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        push_model(folder, "someone/pushed")
    assert fake_hub.requests == []


# ----------------------------------------------------------------------------- training/push_to_hub.py


@pytest.fixture(scope="module")
def cli():
    spec = importlib.util.spec_from_file_location("push_to_hub", ROOT / "training" / "push_to_hub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_pushes_and_prints_the_commit(fake_hub, saved, cli, capsys):
    model, folder = saved
    cli.main([str(folder), "someone/cli", "--message", "from the CLI"])
    out = capsys.readouterr().out
    sha = fake_hub.repos["someone/cli"]["branches"]["main"]
    assert sha in out and f"{fake_hub.url}/someone/cli/commit/{sha}" in out
    assert _same_weights(load_model("someone/cli", fallback=False), model)


def test_cli_dry_run_validates_without_pushing(fake_hub, saved, cli, capsys):
    _, folder = saved
    cli.main([str(folder), "someone/cli", "--dry-run"])
    assert "ok" in capsys.readouterr().out.lower()
    assert fake_hub.requests == []


def test_cli_rejects_a_bad_folder(fake_hub, saved, cli, capsys):
    _, folder = saved
    config = json.loads((folder / CONFIG_FILE).read_text()) | {"latent_dim": 4}
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(folder), "someone/cli"])
    assert exit_info.value.code == 2
    assert "do not fit config.json" in capsys.readouterr().err
    assert fake_hub.requests == []


def test_model_file_reads_companions_from_the_weights_commit(fake_hub, saved, tmp_path):
    model, folder = saved
    save_model(model, folder, extra_files={"dims.json": '{"pitch_dims": [1, 2]}'})
    first = fake_hub.commit_folder(REPO, folder)
    fake_hub.commit(REPO, {"dims.json": b'{"pitch_dims": [3, 4]}'})
    pinned = load_model(REPO, revision=first, fallback=False)
    path = hub.model_file(pinned.source_info, "dims.json")
    assert path is not None and '"pitch_dims": [1, 2]' in path.read_text()
    assert hub.model_file(pinned.source_info, "report.json") is None
    local = load_model(folder)
    assert hub.model_file(local.source_info, "dims.json") == folder.resolve() / "dims.json"
    assert hub.model_file(local.source_info, "README.md") is not None
    with pytest.raises(ValueError, match="plain file name"):
        hub.model_file(local.source_info, "../config.json")


def test_cli_reports_an_unreachable_hub(fake_hub, saved, cli, capsys, monkeypatch):
    _, folder = saved
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(folder), "someone/cli"])
    assert exit_info.value.code == 1
    assert "could not be reached" in capsys.readouterr().err
