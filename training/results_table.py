"""The README's results table: every DESIGN target beside what each bundled model measured.

    python training/results_table.py assets/model/report.json assets/model-paper/report.json

Reads the report.json files that inspect_latent.py writes (with evaluate.py's numbers inside) and
prints one Markdown table, a column per model; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _get(report: dict, *path, default=None):
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return default
        report = report[key]
    return report


def _f(x, digits: int = 2, sign: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _median_at(report: dict, knob: str, songs: str, amount: float) -> float | None:
    fid = _get(report, "fidelity", knob, songs)
    if not fid or amount not in fid["amounts"]:
        return None
    return fid["median"][fid["amounts"].index(amount)]


def rows(r: dict) -> list[tuple[str, str, str]]:
    """(measure, target, measured) for one report."""
    rec = r.get("reconstruction", {})
    out = [("token accuracy, test clips (exact clips)", "≥ 0.95",
            f"{_f(_get(rec, 'test', 'token_accuracy'), 3)} ({_f(_get(rec, 'test', 'exact_clip_rate'), 3)})"),
           ("token accuracy, Nottingham duple-meter clips", "≥ 0.97", _f(_get(rec, "nottingham_44", "token_accuracy"), 3)),
           ("Twinkle theme reconstructed", "1.00", _f(_get(rec, "twinkle", "token_accuracy"), 3)),
           ("rest agreement, median over test songs", "≥ 0.98", _f(_get(r, "rest_agreement", "test_songs", "median"), 3)),
           ("C_pitch / C_rhythm, overlap", "≥ 0.5 each, 0",
            (f"{_f(_get(r, 'latent', 'c_pitch'), 3)} / {_f(_get(r, 'latent', 'c_rhythm'), 3)}, "
            f"{_get(r, 'latent', 'overlap')}"))]
    for name, label in (("twinkle", "Twinkle"), ("test_songs", "median test song"), ("nottingham", "median Nottingham song")):
        shifts = [_median_at(r, "pitch", name, a) for a in (5.0, -5.0, 12.0)]
        out.append((f"pitch knob +5 / −5 / +12, {label} (st)", "+4…+6 / −6…−4 / ≥ +10",
                    " / ".join(_f(s, 2, sign=True) for s in shifts)))
    for name, label in (("test_songs", "test songs"), ("twinkle", "Twinkle"), ("nottingham", "Nottingham")):
        p = _get(r, f"knobs_{name}", "pitch") or {}
        c = _get(r, f"knobs_{name}", "pitch_control") or {}
        out.append((f"pitch +5: rhythm change; random control (st), {label}", "≤ 0.05; ≤ 0.5",
                    f"{_f(p.get('rhythm_change'), 3)}; {_f(c.get('pitch_shift'), 2, sign=True)}"))
    for name, label in (("test_songs", "test songs"), ("twinkle", "Twinkle")):
        fid = _get(r, "fidelity", "pitch", name) or {}
        out.append((f"pitch knob linearity R² / gain, {label}", "≥ 0.95 / 0.8–1.2",
                    f"{_f(fid.get('r2'), 3)} / {_f(fid.get('gain'), 2)}"))
    for name, label in (("test_songs", "test songs"), ("twinkle", "Twinkle"), ("nottingham", "Nottingham")):
        up, down = _median_at(r, "rhythm", name, 1.0), _median_at(r, "rhythm", name, -1.0)
        rh = _get(r, f"knobs_{name}", "rhythm") or {}
        ctrl = _get(r, f"knobs_{name}", "rhythm_control") or {}
        out.append((f"rhythm knob +1 / −1 density (median), pitch drift, control, {label}",
                    "×1.5+ / ×0.75− ; ≤ 0.5 st; 0.85–1.15",
                    (f"×{_f(None if up is None else 2 ** up)} / ×{_f(None if down is None else 2 ** down)}; "
                    f"{_f(rh.get('pitch_shift'), 2, sign=True)} st; ×{_f(ctrl.get('density_ratio'))}")))
    for name, label in (("test_songs", "test songs"), ("twinkle", "Twinkle"), ("nottingham", "Nottingham")):
        res = _get(r, f"knobs_{name}", "residual") or {}
        out.append((f"residual knob +2: steps changed, {label}", "≥ 0.15", _f(res.get("steps_changed"), 3)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", type=Path)
    args = ap.parse_args()
    reports = [json.loads(p.read_text()) for p in args.reports]
    tables = [rows(r) for r in reports]
    labels = [r.get("label") or p.parent.name for r, p in zip(reports, args.reports, strict=True)]
    print("| measure | target | " + " | ".join(labels) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in labels) + " |")
    for i, (measure, target, _) in enumerate(tables[0]):
        print(f"| {measure} | {target} | " + " | ".join(t[i][2] for t in tables) + " |")


if __name__ == "__main__":
    main()
