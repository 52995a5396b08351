"""The command line on the tiny model: each subcommand writes the MIDI it says; bad input exits with 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from midi_files import melody_midi

from vae import cli
from vae.melody import STEPS_PER_BAR, load_melody
from vae.song import example_songs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tiny_model_dir, capsys):
    """The CLI on the untrained tiny model, reading songs as μ (--no-faithful) where a subcommand reads one: fitted,
    the tiny model may play all holds, which load_melody refuses to read back. The default is tested below."""
    def run(*argv: str) -> tuple[int, str, str]:
        mu = ["--no-faithful"] * (argv[0] in ("modulate", "grid", "analogy", "vary", "inspect") and "--faithful" not in argv)
        code = cli.main([argv[0], *argv[1:], *mu, "--model", str(tiny_model_dir)])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


@pytest.fixture
def song(tmp_path) -> Path:
    return melody_midi(tmp_path / "scale.mid")


def bars(path: Path) -> int:
    return len(load_melody(path).tokens) // STEPS_PER_BAR


def test_modulate_writes_midi_audio_and_roll(run, song, tmp_path):
    out = tmp_path / "out.mid"
    code, printed, _ = run("modulate", str(song), "--pitch", "5", "--rhythm", "1", "-o", str(out),
                           "--audio", str(tmp_path / "out.wav"), "--roll", str(tmp_path / "out.png"))
    assert code == 0 and "wrote" in printed and bars(out) == bars(song) == 4
    assert (tmp_path / "out.wav").read_bytes()[:4] == b"RIFF" and (tmp_path / "out.png").read_bytes()[1:4] == b"PNG"
    run("modulate", str(song), "-o", str(tmp_path / "rest.mid"))
    assert not np.array_equal(load_melody(out).tokens, load_melody(tmp_path / "rest.mid").tokens)
    assert run("modulate", str(song), "-o", str(out), "--audio", str(tmp_path / "out.ogg"))[0] == 0
    assert (tmp_path / "out.ogg").read_bytes()[:4] == b"OggS"
    assert run("modulate", str(song), "-o", str(out), "--audio", str(tmp_path / "out.mp3"))[0] == 0
    assert (tmp_path / "out.mp3").read_bytes()[:2] == b"\xff\xf3"  # MPEG-2 layer III


def test_grid_writes_the_cells_with_a_bar_of_rest_between(run, song, tmp_path):
    out = tmp_path / "grid.mid"
    assert run("grid", str(song), "twinkle", "--size", "3", "--clip-b", "2", "-o", str(out))[0] == 0
    tokens = load_melody(out).tokens
    assert bars(out) == 9 * 2 + 8
    assert (tokens[32:48] == 129).all() and (tokens[80:96] == 129).all()  # the rest after cells 1 and 2


def test_analogy_both_ways(run, song, tmp_path):
    assert run("analogy", str(song), "twinkle", "-o", str(tmp_path / "ab.mid"))[0] == 0
    assert run("analogy", str(song), "twinkle", "--reverse", "--mix", "0.5", "-o", str(tmp_path / "ba.mid"))[0] == 0
    assert bars(tmp_path / "ab.mid") == 4 and bars(tmp_path / "ba.mid") == 12  # as long as the pitch song


def test_sample_and_vary_write_a_folder_each_and_are_seeded(run, song, tmp_path):
    for folder in ("s1", "s2"):
        assert run("sample", "--n", "3", "--temperature", "0.8", "--seed", "4", "-o", str(tmp_path / folder),
                   "--roll", str(tmp_path / f"{folder}.png"))[0] == 0
    assert (tmp_path / "s1.png").read_bytes()[1:4] == b"PNG"
    files = sorted((tmp_path / "s1").glob("*.mid"))
    assert [f.name for f in files] == ["sample_01.mid", "sample_02.mid", "sample_03.mid"]
    assert all(f.read_bytes() == (tmp_path / "s2" / f.name).read_bytes() for f in files)
    assert all(bars(f) == 2 for f in files)
    assert run("vary", str(song), "--n", "2", "--spread", "2", "-o", str(tmp_path / "v"), "--audio")[0] == 0
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == [
        f"scale_variation_0{i}.{ext}" for i in (1, 2) for ext in ("mid", "png", "wav")]


def test_inspect_a_typed_melody(run, tmp_path):
    abc = tmp_path / "tune.abc"
    abc.write_text("X:1\nL:1/4\nK:G\nGGdd|ee d2|ccBB|AA G2|\n")
    code, printed, _ = run("inspect", str(abc))
    assert code == 0 and '"bars": 4' in printed and '"pitch dims"' in printed


@pytest.mark.parametrize("argv, message", [
    (["modulate", "missing.mid", "-o", "x.mid"], "there is no file missing.mid"),
    (["modulate", "twinkle", "--pitch", "40", "-o", "x.mid"], "pitch must be between"),
    (["modulate", "nosong", "-o", "x.mid"], "neither a file nor an example"),
    (["grid", "twinkle", "twinkle", "--size", "9", "-o", "x.mid"], "grid size"),
    (["analogy", "twinkle", "twinkle", "--mix", "2", "-o", "x.mid"], "mix must be between"),
    (["sample", "--n", "0", "-o", "folder"], "number of melodies"),
    (["modulate", "twinkle", "-o", "x.mid", "--audio", "x.flac"], "audio is written as"),
])
def test_bad_input_is_one_line_and_exit_code_2(run, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*argv)
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("melody-knobs: error:")


def test_bad_text_file_and_a_missing_model(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("C4 H4")
    assert cli.main(["inspect", str(bad)]) == 2 and "cannot read 'H4'" in capsys.readouterr().err
    assert cli.main(["inspect", "twinkle", "--model", str(tmp_path / "nope")]) == 2


def test_a_missing_song_is_said_before_missing_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("vae.hub.BUNDLED_DIR", tmp_path / "no_weights")
    assert cli.main(["modulate", str(tmp_path / "gone.mid"), "-o", str(tmp_path / "x.mid")]) == 2
    assert "there is no file" in capsys.readouterr().err
    assert cli.main(["analogy", "twinkle", str(tmp_path / "gone.abc"), "-o", str(tmp_path / "x.mid")]) == 2
    assert "there is no file" in capsys.readouterr().err
    assert cli.main(["modulate", "twinkle", "-o", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err  # the hint holds for a wheel install too, which has no training/ folder
    assert "no bundled weights" in err and "reinstall melody-knobs" in err and "--model" in err


@pytest.mark.parametrize("command", [None, *cli.COMMANDS, "serve"])
def test_help(command):
    argv = [sys.executable, "-m", "vae.cli", *([command] if command else []), "--help"]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "usage: melody-knobs" in done.stdout
    assert command is None or "--model" in done.stdout


def test_the_package_declares_the_entry_point():
    text = (ROOT / "pyproject.toml").read_text()
    scripts = text.split("[project.scripts]\n", 1)[1].split("\n\n", 1)[0]
    assert scripts.strip() == 'melody-knobs = "vae.cli:main"'


def test_faithful_is_the_default_and_gives_the_song_back_on_the_shipped_model(tmp_path, capsys):
    """Faithful encoding (the default) plays an example back note for note at rest; --no-faithful plays μ's reading."""
    song = tmp_path / "rest.mid"
    assert cli.main(["modulate", "test_4", "-o", str(song)]) == 0
    assert cli.main(["modulate", "test_4", "--no-faithful", "-o", str(tmp_path / "own.mid")]) == 0
    original = load_melody(example_songs()["test_4"]).tokens
    assert np.array_equal(load_melody(song).tokens, original)
    assert not np.array_equal(load_melody(tmp_path / "own.mid").tokens, original)  # μ gets 84 % of its steps
    capsys.readouterr()
    assert cli.main(["inspect", "test_4"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["faithful"] and facts["reconstruction_accuracy"] == 1.0 > facts["model_reading_accuracy"]
