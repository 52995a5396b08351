"""Write the example songs of assets/examples/.

    python training/make_examples.py [--data data/clips.npz] [--n 4]

- twinkle.mid: the theme of Mozart's twelve variations on "Ah vous dirai-je, Maman" (K. 265),
  right-hand melody, 24 bars of 2/4, written out here note by note from the public-domain score
  (the grace notes and trills of the original are left out).
- test_<k>.mid: a few tunes of the test split of prepare_data.py (never seen in training).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vae.dataset import read_data, split_songs
from vae.melody import HOLD, STEPS_PER_BAR, STEPS_PER_QUARTER, tokens_to_midi

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
TWINKLE_BPM = 100.0

# (MIDI pitch, quarter notes) per bar of 2/4; C5 = 72.
_A = [[(72, 1), (72, 1)], [(79, 1), (79, 1)], [(81, 1), (81, 1)], [(79, 2)],
      [(77, 1), (77, 1)], [(76, 1), (76, 1)], [(74, 1), (74, 1)], [(72, 2)]]
_B = [[(79, 1), (79, 1)], [(77, 1), (77, 1)], [(76, 1), (76, 1)], [(74, 2)]] * 2
TWINKLE_BARS = _A + _B + _A  # 24 bars: A, B, A as the theme is written out


def twinkle_tokens() -> np.ndarray:
    """Tokens (192,) of the Twinkle theme: 24 bars of 2/4 = 12 bars of 4/4 = 6 clips."""
    tokens = []
    for bar in TWINKLE_BARS:
        for pitch, quarters in bar:
            tokens += [pitch] + [HOLD] * (quarters * STEPS_PER_QUARTER - 1)
    return np.array(tokens, dtype=np.int64)


def write_twinkle(folder: Path = EXAMPLES) -> Path:
    pm = tokens_to_midi(twinkle_tokens(), bpm=TWINKLE_BPM)
    pm.time_signature_changes[0].numerator, pm.time_signature_changes[0].denominator = 2, 4
    pm.instruments[0].name = "Ah vous dirai-je, Maman (theme)"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "twinkle.mid"
    pm.write(str(path))
    return path


def write_test_tunes(data: Path, n: int, folder: Path = EXAMPLES, min_bars: int = 8, seed: int = 0) -> list[dict]:
    """Write ``n`` test-split tunes of at least ``min_bars`` bars; returns what was written."""
    arrays = read_data(data)
    songs, ids = split_songs(arrays, "test", min_bars, max_bars=32), arrays["test_tune_ids"]
    rng = np.random.default_rng(seed)
    written = []
    for k, i in enumerate(sorted(rng.choice(list(songs), size=min(n, len(songs)), replace=False))):
        tokens = songs[i]
        pm = tokens_to_midi(tokens, bpm=120.0)
        pm.instruments[0].name = str(ids[i])
        path = folder / f"test_{k + 1}.mid"
        pm.write(str(path))
        written.append({"file": path.name, "tune": str(ids[i]), "bars": len(tokens) // STEPS_PER_BAR})
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--n", type=int, default=4)
    args = ap.parse_args()
    print("wrote", write_twinkle())
    if Path(args.data).exists():
        written = write_test_tunes(Path(args.data), args.n)
        (EXAMPLES / "examples.json").write_text(json.dumps(written, indent=2))
        print(json.dumps(written, indent=2))
    else:
        print(f"{args.data} not found: run training/prepare_data.py to add test-split examples")


if __name__ == "__main__":
    main()
