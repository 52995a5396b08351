"""melody-knobs: the app's knobs, grid, analogy, sampling and analysis, on files.

    melody-knobs modulate SONG.mid --pitch 5 --rhythm 1 --residual 0 -o out.mid [--audio out.wav|.mp3|.ogg]
    melody-knobs grid A.mid B.mid --size 5 -o grid.mid
    melody-knobs analogy A.mid B.mid [--mix 1] [--reverse] -o out.mid
    melody-knobs sample --n 8 --temperature 0.8 --seed 0 -o folder/
    melody-knobs vary SONG.mid --n 4 --spread 1 --seed 0 -o folder/
    melody-knobs inspect SONG.mid [--analyse]
    melody-knobs serve [--port 7860] [--host 127.0.0.1] [--model user/repo]

A SONG is a MIDI file (.mid, .midi), a typed melody (.abc or .txt: ABC notation or note text, see
:mod:`vae.notation`) or the name of an example song (twinkle). Every subcommand takes ``--model``
(a Hub repo id or a model folder; default ``$MELODY_KNOBS_MODEL``, else the bundled model), and
every one that reads a song ``--faithful`` (the default: its latents fitted to it, so the knobs at 0
give the song back) or ``--no-faithful`` (μ: the model's own reading); each calls the same library
functions as the app. Bad input: one line on stderr and exit code 2; a song that is not there is said before the
weights are read. ``serve`` runs the app's page (``app.py``, which the wheel ships beside ``vae/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vae import ideas, knobs, render
from vae.bundle import Bundle, load_bundle, load_bundles
from vae.dims import song_dims
from vae.inference import readings
from vae.knobs import Knobs
from vae.measures import dims_rows
from vae.melody import STEPS_PER_BAR, Melody, split_clips
from vae.notation import parse_melody
from vae.pianoroll import roll_png
from vae.song import SongSource, clip_of, example_songs

PROG = "melody-knobs"
BAD_INPUT = 2  # exit code, as argparse's own for a bad command line
def _mp3_bytes(samples: np.ndarray) -> bytes:
    if render.lameenc is None:
        raise ValueError("MP3 needs the lameenc package; write a .wav instead")
    return render.mp3_bytes(samples)


def _ogg_bytes(samples: np.ndarray) -> bytes:
    if render.soundfile is None:
        raise ValueError("Ogg Vorbis needs the soundfile package (libsndfile); write a .wav instead")
    return render.ogg_bytes(samples)


AUDIO_WRITERS: dict[str, Callable[[np.ndarray], bytes]] = {".wav": render.wav_bytes, ".mp3": _mp3_bytes,
                                                           ".ogg": _ogg_bytes}
MIDI_SUFFIXES, TEXT_SUFFIXES = (".mid", ".midi"), (".abc", ".txt")
SONG_ARGS = ("song", "source", "target", "song_a", "song_b")  # the parsed arguments that name a song


def song_path(source: str) -> Path:
    """The file a song argument names: a MIDI or typed-melody (.abc/.txt) file, or an example's MIDI file (its
    stem is the example's name)."""
    path = Path(source)
    if path.suffix.lower() in MIDI_SUFFIXES + TEXT_SUFFIXES or path.exists():
        if not path.is_file():
            raise ValueError(f"there is no file {source}")
        return path
    examples = example_songs()
    if source not in examples:
        raise ValueError(f"{source} is neither a file nor an example ({', '.join(examples)})")
    return examples[source]


def read_song(source: str, track: int | None = None) -> tuple[Melody, str]:
    """A MIDI file, a typed-melody file (.abc/.txt) or an example name: (melody, name)."""
    path = song_path(source)
    if path.suffix.lower() in TEXT_SUFFIXES:
        return parse_melody(path.read_text(encoding="utf-8", errors="replace")), path.stem
    return SongSource(upload=path, track=track).read()


def _files(args) -> render.ResultFiles:
    """The files a subcommand writes: ``-o``'s MIDI, and ``--audio``'s and ``--roll``'s when they are given."""
    return render.ResultFiles(roll=args.roll, audio=args.audio, midi=args.output)


def write_song(tokens: np.ndarray, bpm: float, files: render.ResultFiles, title: str | None = None,
               compare: np.ndarray | None = None) -> None:
    """The tokens as MIDI at ``files.midi``, and as audio and a piano roll (over ``compare``) where ``files`` names
    them; says what it wrote."""
    out, audio, roll = files.midi, files.audio, files.roll
    if audio is not None and audio.suffix.lower() not in AUDIO_WRITERS:
        raise ValueError(f"audio is written as {', '.join(AUDIO_WRITERS)}, not {audio.suffix or 'no suffix'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render.midi_bytes(tokens, bpm))
    written = [out]
    if audio is not None:
        samples, _ = render.synthesize(tokens, bpm)
        audio.write_bytes(AUDIO_WRITERS[audio.suffix.lower()](samples))
        written.append(audio)
    if roll is not None:
        roll.write_bytes(roll_png(tokens, compare, title=title))
        written.append(roll)
    print(f"wrote {', '.join(map(str, written))} ({len(tokens) // STEPS_PER_BAR} bars at {bpm:g} bpm)")


def _bars(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        first, _, last = text.partition("-")
        return int(first), int(last or first)
    except ValueError:
        raise ValueError(f"--bars must be a range like 3-6, got {text!r}") from None


# ----------------------------------------------------------------------------- subcommands


def cmd_modulate(b: Bundle, args) -> None:
    """The knobs on a song (vae.knobs.apply, as the Knobs tab)."""
    melody, name = read_song(args.song, args.track)
    k = Knobs(args.pitch, args.rhythm, args.residual, args.control, _bars(args.bars))
    result = knobs.apply(b.model, b.space, melody.tokens, k, faithful=args.faithful)
    write_song(result, melody.bpm, _files(args), k.stem(name), melody.tokens)


def cmd_grid(b: Bundle, args) -> None:
    """The pitch x rhythm grid between two clips (vae.knobs.grid), cells row by row with a bar of rest."""
    (a, name_a), (c, name_b) = read_song(args.source), read_song(args.target)
    cells = knobs.grid(b.model, b.space, clip_of(a.tokens, args.clip_a, name_a), clip_of(c.tokens, args.clip_b, name_b),
                       args.size, args.faithful)
    song = ideas.join_with_rests(cells.reshape(-1, cells.shape[-1]))
    write_song(song, a.bpm, _files(args), f"grid {name_a} -> {name_b}, rows then columns")


def cmd_analogy(b: Bundle, args) -> None:
    """The pitch of one song with the rhythm of the other (vae.ideas.analogy, as the Analogy tab)."""
    (a, name_a), (c, name_b) = read_song(args.song_a), read_song(args.song_b)
    direction = "a_rhythm" if args.reverse else "a_pitch"
    result = ideas.analogy(b.model, b.space, a.tokens, c.tokens, ideas.Analogy(args.mix, direction, args.control),
                           args.faithful)
    (pitch, p_name), r_name = ((a, name_a), name_b) if direction == "a_pitch" else ((c, name_b), name_a)
    write_song(result, pitch.bpm, _files(args), f"pitch of {p_name}, rhythm of {r_name}",
               pitch.tokens)


def _write_many(songs: Sequence[np.ndarray], bpm: float, folder: Path, stem: str, audio: bool,
                roll: Path | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if roll is not None:
        roll.write_bytes(roll_png(ideas.join_with_rests(songs), title=f"{stem}: {len(songs)}, a bar of rest between"))
    for i, tokens in enumerate(tqdm(songs, desc="writing", unit="melody", disable=None), start=1):
        path = folder / f"{stem}_{i:02d}.mid"
        files = render.ResultFiles(path.with_suffix(".png"), path.with_suffix(".wav") if audio else None, path)
        write_song(tokens, bpm, files, f"{stem} {i}")


def cmd_sample(b: Bundle, args) -> None:
    """2-bar melodies from the prior (vae.ideas.sample, as the Sampling tab: the same seed, the same notes)."""
    _write_many(ideas.sample(b.model, args.n, args.temperature, args.seed), args.bpm, args.output, "sample",
                args.audio, args.roll)


def cmd_vary(b: Bundle, args) -> None:
    """Variations of a song (vae.ideas.variations)."""
    melody, name = read_song(args.song, args.track)
    songs = ideas.variations(b.model, melody.tokens, ideas.Variations(args.n, args.spread, args.seed, args.temperature),
                             args.faithful)
    _write_many(songs, melody.bpm, args.output, f"{name}_variation", args.audio, args.roll)


def cmd_inspect(b: Bundle, args) -> None:
    """Facts about a song and the dims (the model's, or found on this song with --analyse), as JSON."""
    melody, name = read_song(args.song, args.track)
    clips = split_clips(melody.tokens)
    _, rest, own = readings(b.model, clips, args.faithful)
    facts = {"name": name, "bars": len(melody.tokens) // STEPS_PER_BAR, "clips": len(clips), "bpm": melody.bpm,
             "meter": melody.meter, "faithful": args.faithful,
             "reconstruction_accuracy": round(float((rest == clips).mean()), 4),
             "model_reading_accuracy": round(float((own == clips).mean()), 4),
             "warnings": melody.warnings, "model": b.source_info.describe()}
    space = b.space
    if args.analyse:
        with tqdm(total=100, desc="analysing", unit="%", disable=None) as bar:
            space = song_dims(b.model, melody.tokens, name, progress=lambda f, msg: bar.update(100 * f - bar.n))
    facts["dims"] = {str(k): v for k, v in dims_rows(space)}
    print(json.dumps(facts, indent=2, default=str))


def serve(args) -> None:
    """The app's page on the bundled models (or ``--model`` and the bundled paper-recipe model), until Ctrl-C.

    The page is the UI floor above this library: ``app`` (a top-level module of the wheel, ``app.py`` in a
    checkout) is imported here only, so that the other subcommands never load gradio.
    """
    import app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log = lambda f, msg: app.logger.info("computing the pitch and rhythm dims: %3.0f %% (%s)", 100 * f, msg)
    bundles = load_bundles(args.model, args.revision, app.EXAMPLES, progress=log)
    app.serve(app.build_demo(bundles), args.host or app.HOST, args.port or app.PORT, args.share)


# ----------------------------------------------------------------------------- the parser


def _common(p: argparse.ArgumentParser, output: str | None = "out.mid", folder: bool = False) -> None:
    p.add_argument("--model", default=None, help="Hub repo id or model folder (default $MELODY_KNOBS_MODEL, "
                                                 "else the bundled model)")
    p.add_argument("--revision", default=None, help="branch, tag or commit of the Hub repo")
    if output:
        p.add_argument("-o", "--output", type=Path, required=True, help=f"where to write ({output})")
    if folder:
        p.add_argument("--audio", action="store_true", help="also write a .wav next to each MIDI file")
        p.add_argument("--roll", type=Path, default=None, help="also write one piano roll of them all here (.png)")
    elif output:
        p.add_argument("--audio", type=Path, default=None, help="also write the audio here (.wav)")
        p.add_argument("--roll", type=Path, default=None, help="also write the piano roll here (.png)")


def _song_arg(p: argparse.ArgumentParser, name: str = "song", track: bool = True) -> None:
    p.add_argument(name, help="a MIDI file, an .abc/.txt typed melody, or an example name (twinkle)")
    if p.get_default("faithful") is None:
        p.add_argument("--faithful", action=argparse.BooleanOptionalAction, default=True,
                       help="fit each clip's latent to the song, so the knobs at 0 give it back (default); "
                            "--no-faithful: μ, the model's own reading")
    if track and name == "song":
        p.add_argument("--track", type=int, default=None, help="MIDI track index (default: the one with most notes)")


def _span(unit: str, bounds: tuple[float, float]) -> str:
    return f"{unit}, {bounds[0]:g} to {bounds[1]:g}"


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand and its options."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("modulate", help="turn the pitch, rhythm and residual knobs on a song")
    _song_arg(p)
    p.add_argument("--pitch", type=float, default=0.0, help=_span("semitones", knobs.PITCH_RANGE))
    p.add_argument("--rhythm", type=float, default=0.0, help=_span("splits", knobs.RHYTHM_RANGE))
    p.add_argument("--residual", type=float, default=0.0, help=_span("standard deviations", knobs.RESIDUAL_RANGE))
    p.add_argument("--control", action="store_true", help="the same move on random non-significant dims")
    p.add_argument("--bars", default=None, help="only these bars, e.g. 3-6 (from 1)")
    _common(p, "MIDI file")
    p = sub.add_parser("grid", help="the pitch x rhythm grid between two clips, cells in order with a bar of rest")
    _song_arg(p, "source")
    _song_arg(p, "target")
    p.add_argument("--clip-a", type=int, default=1, help="clip of the source (2 bars each, from 1)")
    p.add_argument("--clip-b", type=int, default=1, help="clip of the target (from 1)")
    p.add_argument("--size", type=int, default=5, help=_span("cells per side", knobs.GRID_RANGE))
    _common(p, "MIDI file")
    p = sub.add_parser("analogy", help="the pitch of song A with the rhythm of song B, clip by clip")
    _song_arg(p, "song_a")
    _song_arg(p, "song_b")
    p.add_argument("--mix", type=float, default=1.0, help="0..1: how far the rhythm dims go towards B's")
    p.add_argument("--reverse", action="store_true", help="the rhythm of A with the pitch of B instead")
    p.add_argument("--control", action="store_true", help="swap random non-significant dims instead")
    _common(p, "MIDI file")
    p = sub.add_parser("sample", help="new 2-bar melodies from the prior")
    p.add_argument("--n", type=int, default=8, help=f"how many, 1..{ideas.MAX_SAMPLES}")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy decoding; >0 samples each step")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same melodies (as in the app)")
    p.add_argument("--bpm", type=float, default=120.0)
    _common(p, "a folder", folder=True)
    p = sub.add_parser("vary", help="variations of a song: each clip's z drawn around its mean")
    _song_arg(p)
    p.add_argument("--n", type=int, default=4, help=f"how many, 1..{ideas.MAX_SAMPLES}")
    p.add_argument("--spread", type=float, default=1.0, help="in units of the encoder's sigma, 0..3")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same variations (as in the app)")
    _common(p, "a folder", folder=True)
    p = sub.add_parser("inspect", help="facts about a song and the model's dims, as JSON")
    _song_arg(p)
    p.add_argument("--analyse", action="store_true", help="re-run the pitch/rhythm analysis on this song's clips")
    _common(p, output=None)
    p = sub.add_parser("serve", help="run the app's page (knobs, grid, ideas, inspect) in a browser")
    p.add_argument("--host", default=None, help="address to listen on (default $GRADIO_SERVER_NAME, else 127.0.0.1; "
                                                "0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, default=None, help="port (default $GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    _common(p, output=None)
    return parser


COMMANDS = {"modulate": cmd_modulate, "grid": cmd_grid, "analogy": cmd_analogy, "sample": cmd_sample,
            "vary": cmd_vary, "inspect": cmd_inspect}  # and serve, which loads the app's models itself


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit code (0, or 2 on bad input with one line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        for name in SONG_ARGS:  # the input first: a missing file is said even where the weights are missing too
            if hasattr(args, name):
                song_path(getattr(args, name))
        if args.command == "serve":
            serve(args)
            return 0
        bundle = load_bundle(args.model, args.revision, fallback=args.model is None)
        COMMANDS[args.command](bundle, args)
    except (ValueError, OSError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
