"""The wheel, installed as a user installs it: built from the checkout's files, installed (not editable) into a new
venv, run from a folder outside any checkout, offline. The CLI modulates a song and ``serve`` answers ``/modulate``
on the bundled model, with no file of the checkout in reach. Marked slow (tests/conftest.py): 40 to 70 s.

The new venv reuses this environment's packages (a path line to its site-packages: no download), while its own
site-packages, which holds the wheel's ``vae``, ``app`` and the bundled files, comes first on its path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vae.melody import load_melody
from vae.song import example_songs

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = ("config.json", "model.safetensors", "dims.json", "report.json", "README.md")


def _source_tree(dest: Path) -> Path:
    """The checkout's files as a fresh clone has them, with this work tree's uncommitted changes (git ls-files)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MELODY_KNOBS_MODEL", "VIRTUAL_ENV")}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a new venv with the wheel installed."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to build from")
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_tree(tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist")], check=True, timeout=300)
    wheel = next((tmp / "dist").glob("melody_knobs-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"vae/assets/{m}/{f}" for m in ("model", "model-paper") for f in MODEL_FILES} <= names
    assert {"vae/assets/examples/twinkle.mid", "vae/assets/app.css", "vae/assets/notation.js", "app.py",
            "vae/assets/stream_watch.js", "vae/assets/abcjs/abcjs-basic-min.js", "vae/assets/abcjs/LICENSE.md", "ui/__init__.py", "ui/guards.py",
            "ui/staff.py"} <= names
    assert not any(n.startswith(("vae/assets/screenshots", "tests/", "training/")) for n in names)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after the venv's own packages
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, timeout=300)
    where = subprocess.run([venv / "bin" / "python", "-c", "import app, vae; print(vae.__file__, app.__file__)"],
                           cwd=tmp, env=_clean_env(), check=True, capture_output=True, text=True).stdout
    assert where.count(str(site)) == 2, f"the wheel's modules must be the ones imported, got {where}"
    return venv / "bin"


def test_the_installed_cli_modulates_a_song_offline_outside_the_checkout(installed, tmp_path):
    song = tmp_path / "song.mid"
    shutil.copy(example_songs()["twinkle"], song)
    done = subprocess.run([installed / "melody-knobs", "modulate", "song.mid", "--pitch", "5", "-o", "out.mid"], check=False,
                          cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    before, after = load_melody(song).tokens, load_melody(tmp_path / "out.mid").tokens
    assert before.shape == after.shape
    shift = np.mean(after[after < 128]) - np.mean(before[before < 128])
    assert 4 <= shift <= 6, f"the bundled model's pitch knob at +5 moved Twinkle {shift:+.2f} semitones"
    gone = subprocess.run([installed / "melody-knobs", "modulate", "gone.mid", "-o", "x.mid"], check=False,
                          cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert gone.returncode == 2 and "there is no file gone.mid" in gone.stderr


@pytest.mark.server
def test_the_installed_serve_answers_modulate_on_the_bundled_model(installed, tmp_path):
    from gradio_client import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([installed / "melody-knobs", "serve", "--port", str(port)], cwd=tmp_path,
                              env=_clean_env(GRADIO_ANALYTICS_ENABLED="False"), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                urllib.request.urlopen(f"{url}config", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer in 120 s"
                time.sleep(0.5)
        _roll, audio, midi = Client(url, verbose=False).predict(example="twinkle", pitch=5, api_name="/modulate")
        assert Path(audio).stat().st_size > 0
        before, after = load_melody(example_songs()["twinkle"]).tokens, load_melody(midi).tokens
        assert 4 <= np.mean(after[after < 128]) - np.mean(before[before < 128]) <= 6
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
