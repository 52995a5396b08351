"""What the tabs share: the example songs, the song pickers, reading a song from a picker, a gallery of rolls."""

from __future__ import annotations

import gradio as gr
import numpy as np

from ui import store
from vae import song
from vae.melody import Melody
from vae.pianoroll import piano_roll_thumbnail

EXAMPLES = song.example_songs()
DEFAULT = song.DEFAULT_EXAMPLE
CHOICES = song.example_choices(EXAMPLES)  # (title, name): the menus show titles; events, links and the API get names
MP3 = "mp3"  # the API's audio: compressed as the page plays it; "wav" for lossless
TABLE = {"headers": ["measure", "value"], "wrap": True, "column_widths": ["45%", "55%"], "max_height": 420}


def read(example=DEFAULT, midi_file=None, song_code=None, text=None, bpm=None) -> tuple[Melody, str]:
    """A song from an upload, else a typed melody, else a song code, else an example: (melody, name)."""
    return song.SongSource(example=example, upload=midi_file, code=song_code, bpm=bpm, text=text).read(EXAMPLES)


def thumbnail_gallery(songs, stem: str, captions) -> list[tuple[str, str]]:
    """(thumbnail PNG path, caption) of each song (T,), all on one pitch scale."""
    notes = np.concatenate([s[s < 128] for s in songs])
    window = (max(0, int(notes.min()) - 1), min(127, int(notes.max()) + 1)) if notes.size else None
    return [(str(store.image_file(piano_roll_thumbnail(s, pitch_range=window), f"{stem}_{i + 1}")), caption)
            for i, (s, caption) in enumerate(zip(songs, captions, strict=True))]


def song_picker(label: str, clip: int | None = None, ids: tuple = (None, None)) -> tuple:
    """An example menu (titles shown, names given; it may name an upload), a MIDI upload, a clip number."""
    with gr.Column():
        example = gr.Dropdown(CHOICES, value=DEFAULT, label=f"{label}example", allow_custom_value=True,
                              elem_id=ids[0], info="or give your own MIDI file in the upload box")
        upload = gr.File(label=f"{label}or your MIDI file (.mid)", file_types=[".mid", ".midi"], height=150,
                         elem_id=ids[1])
        number = gr.Number(clip, label=f"{label}clip (2 bars each, from 1)", precision=0, minimum=1) if clip else None
    return example, upload, number


def picker(label: str, example: str) -> tuple:
    """An example menu, a MIDI upload, a typed melody and a hidden song code (a link's song): (example, upload,
    code, text), the order the handlers take them in."""
    with gr.Column():
        chosen = gr.Dropdown(CHOICES, value=example, label=f"{label}: example", allow_custom_value=True)
        upload = gr.File(label=f"{label}: or a MIDI file", file_types=[".mid", ".midi"])
        text = gr.Textbox(label=f"{label}: or type a melody", lines=2, placeholder="C4 D4 E4/2 E4/2 F4*2 | G4*4")
        code = gr.Textbox(visible=False)
    return chosen, upload, code, text
