"""Ship a trained run: copy its model into a folder with curves and a model card (README.md).

    python training/model_card.py --run-dir runs/small --data data/clips.npz --out assets/model

Reads RUN/metrics.jsonl, RUN/args.json, the data's metadata JSON and, when present,
OUT/report.json (inspect_latent.py), and writes OUT/config.json, OUT/model.safetensors,
OUT/README.md and assets/figures/training_curves.png. Run it again after inspect_latent.py to
put the latent-space numbers into the card.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vae.checkpoint import load_folder

ROOT = Path(__file__).resolve().parents[1]


def curves(metrics: list[dict], path: Path) -> None:
    minutes = [m["minutes"] for m in metrics]
    fig = Figure(figsize=(9, 3.2))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(minutes, [m["train_nll"] for m in metrics], ".-", label="train NLL / token")
    ax1.plot(minutes, [m["train_kl"] / 32 for m in metrics], ".-", label="train KL / 32 (nats per step)")
    ax1.set(xlabel="training minutes (2 CPU cores)", title="loss", yscale="log")
    ax1.legend(fontsize=8)
    ax2.plot(minutes, [m["token_accuracy"] for m in metrics], ".-", label="token accuracy")
    ax2.plot(minutes, [m["exact_clip_rate"] for m in metrics], ".-", label="exact-clip rate")
    ax2.axhline(0.98, color="grey", ls="--", lw=0.8)
    ax2.set(xlabel="training minutes (2 CPU cores)", title="greedy reconstruction, validation", ylim=(0, 1))
    ax2.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def fmt(x, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else str(x)


def variants_table(variants: dict | None, knob: str, key: str, label: str, intro: str) -> list[str]:
    """Card lines comparing the variants of one knob (report.json's ``pitch_knobs`` / ``rhythm_knobs``)."""
    if not variants:
        return []
    lines = ["", intro, "", f"| {knob} knob | songs | {label} | rhythm change | control {label} |",
             "| --- | --- | --- | --- | --- |"]
    for kind, sets in variants.items():
        for name, block in sets.items():
            r, c = block[knob], block.get(f"{knob}_control", {})
            lines.append(f"| {kind} {r['amount']:+g} | {name} ({r['n_songs']}) | {fmt(r[key], 2)} | "
                         f"{fmt(r['rhythm_change'])} | {fmt(c.get(key), 2)} |")
    return lines


def fidelity_lines(report: dict) -> list[str]:
    """Card lines: knob fidelity (linearity, gain, median effect per knob value) and rest agreement."""
    lines = []
    for knob, unit in (("pitch", "semitones"), ("rhythm", "log2 of the density ratio")):
        sets = report.get("fidelity", {}).get(knob)
        if not sets:
            continue
        amounts = next(iter(sets.values()))["amounts"]
        lines += ["", (f"Knob fidelity, {knob} knob (median {unit} against the song decoded at rest; "
                       "R² and gain of one line through every song's points):"), "",
                  "| songs | R² | gain | " + " | ".join(f"{a:+g}" for a in amounts) + " |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in amounts) + " |"]
        for name, f in sets.items():
            lines.append(f"| {name} ({f['n_songs']}) | {fmt(f['r2'])} | {fmt(f['gain'], 2)} | "
                         + " | ".join(fmt(m, 2) for m in f["median"]) + " |")
    rest = report.get("rest_agreement")
    if rest:
        lines += ["", "Rest agreement (share of steps where the song decoded with every knob at 0 equals the song): "
                  + ", ".join(f"{name} median {fmt(r['median'])} (min {fmt(r['min'])}, {r['n_songs']} songs)"
                              for name, r in rest.items()) + "."]
    return lines


FAITHFUL_HEADING = "## Faithful encoding"


def faithful_lines(report: dict) -> list[str]:
    """Card lines on faithful encoding (report.json's ``faithful``, from inspect_latent.py --faithful-only): μ and
    fitted z side by side, rest agreement both ways, and the knobs from fitted z."""
    f = report.get("faithful")
    if not f:
        return []
    fit = f["fit"]
    lines = [FAITHFUL_HEADING, "",
             (f"The app fits each song's clip latents to the song once, where it is read (semi-amortised inference, Kim "
              f"et al. 2018): from μ, Adam on z alone (lr {fit['lr']:g}, at most {fit['max_steps']} steps; "
              f"{fit['early_stop']}), the weights frozen; a clip keeps μ unless its fitted z decodes more of it. "
              "`faithful=False` (the app's switch, the API's parameter, `--no-faithful`) gives μ."), "",
             "| data | clips | token accuracy, μ | exact clips, μ | token accuracy, fitted | exact clips, fitted |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, label in (("test", "test split"), ("nottingham_44", "Nottingham, duple-meter tunes (never trained on)")):
        r = f["reconstruction"].get(key)
        if r:
            lines.append(f"| {label} | {r['n_clips']} | {fmt(r['mu_token_accuracy'], 4)} | {fmt(r['mu_exact_clip_rate'])} "
                         f"| {fmt(r['token_accuracy'], 4)} | {fmt(r['exact_clip_rate'])} |")
    lines += ["", "Rest agreement (share of steps where the song played with every knob at 0 equals the song):", "",
              "| songs | μ median | μ min | fitted median | fitted min |", "| --- | --- | --- | --- | --- |"]
    for name, r in f["rest_agreement"].items():
        lines.append(f"| {name} ({r['fitted']['n_songs']}) | {fmt(r['mu']['median'])} | {fmt(r['mu']['min'])} | "
                     f"{fmt(r['fitted']['median'])} | {fmt(r['fitted']['min'])} |")
    lines += ["", "Knob effects from fitted z (median over songs; against the song played at rest):", "",
              "| songs | knob | pitch shift (st) | rhythm change | steps changed | density ratio |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name, block in f["knobs"].items():
        for knob, r in block.items():
            lines.append(f"| {name} ({r['n_songs']}) | {knob} {r['amount']:+g} | {fmt(r['pitch_shift_median'], 2)} | "
                         f"{fmt(r['rhythm_change_median'])} | {fmt(r['steps_changed_median'])} | "
                         f"{fmt(r['density_ratio_median'], 2)} |")
    lines += fidelity_lines({"fidelity": f["fidelity"]})
    pitch = f["fidelity"].get("pitch", {})
    if pitch:
        amounts = next(iter(pitch.values()))["amounts"]
        lines += ["", ("Transposition agreement from fitted z (median share of steps where pitch +k plays the song at "
                  "rest moved by k semitones):"), "", "| songs | " + " | ".join(f"{a:+g}" for a in amounts) + " |",
                  "| --- | " + " | ".join("---" for _ in amounts) + " |"]
        lines += [f"| {name} | " + " | ".join(fmt(x, 3) for x in r["transposition_agreement"]) + " |"
                  for name, r in pitch.items()]
    return [*lines, ""]


def with_faithful_section(card_text: str, report: dict) -> str:
    """The card with its faithful-encoding section written again from ``report`` (put before "## Limits")."""
    section = "\n".join(faithful_lines(report))
    start = card_text.find(FAITHFUL_HEADING)
    if start >= 0:
        end = card_text.find("\n## ", start + len(FAITHFUL_HEADING))
        card_text = card_text[:start] + card_text[end + 1:] if end >= 0 else card_text[:start]
    limits = card_text.find("## Limits")
    return card_text[:limits] + section + "\n" + card_text[limits:] if limits >= 0 else card_text + "\n" + section


def card(model, args: dict, metrics: list[dict], meta: dict, report: dict | None) -> str:
    c = model.config
    n_params = sum(p.numel() for p in model.parameters())
    last = metrics[-1]
    best = max(metrics, key=lambda m: m["token_accuracy"])
    lines = [
        "---", "library_name: melody-knobs", "tags: [music, vae, midi, pytorch_model_hub_mixin]", "license: mit", "---",
        "", "# Melody Knobs: MusicVAE of 2-bar melodies", "",
        ("A VAE over 2-bar monophonic melodies (32 sixteenth-note steps, 130 states: 128 onsets, hold, rest), "
        "after Yang, Chen, Zhang and Xia, *Inspecting and Interacting with Meaningful Music Representations "
        "using VAE* (NIME 2019). Load it with `vae.load_model(<this folder or repo id>)`."), "",
        "## Model", "",
        f"- bidirectional GRU encoder, {c.enc_hidden} units per direction → μ, log σ² of a {c.latent_dim}-dim z",
        (f"- GRU decoder, {c.dec_layers} layer(s) of {c.dec_hidden} units, initial state from z, input = previous "
        "token ⊕ z; greedy decoding"),
        f"- {n_params:,} parameters ({n_params * 4 / 1e6:.1f} MB as float32 safetensors)",
        (f"- loss: token NLL + β·KL with β = {c.beta}, KL normalised as `{c.kl_norm}` "
        "(`sum`: the per-clip ELBO divided by 32 steps)"),
        (f"- attribute regularisation (AR-VAE, Pati & Lerch 2020): latent dims {list(range(len(c.reg_attributes)))} "
         f"tied to {list(c.reg_attributes)} (mean onset pitch, onset count) by γ·mean|tanh(δ(z_i − z_j)) − "
         f"sign(a_i − a_j)| over the batch's pairs, γ = {c.reg_gamma}, δ = {c.reg_delta}"
         if c.reg_attributes and c.reg_gamma else "- no attribute regularisation (the paper's recipe)"), "",
        "## Data", "",
        ("Folk tunes of the music21 corpus (essenFolksong, oneills1850, ryansMammoth), duple meters only, "
        "32-step windows with a one-bar hop, split by tune (seed "
        f"{meta.get('seed')}):"), "",
        "| split | tunes | clips |", "| --- | --- | --- |",
        *[f"| {k} | {v['tunes']} | {v['clips']} |" for k, v in meta["splits"].items()], "",
        f"Tunes per source: {meta.get('tunes_per_source')}.", "",
        "## Training", "",
        (args.get("history", "") +
        f"{last['minutes']:.0f} minutes of training steps{args.get('where', ' on 2 CPU cores')} "
        f"({last['step']} steps of {args['batch']} clips, {last['epoch']} epochs), Adam {args['lr']:g} held for the first {args.get('decay_start', 0):.0%} of the run "
        f"then decayed to {args['lr_min']:g}, gradient clipping {args['clip_grad']}, scheduled sampling up to "
        f"{args['sample_max']}, decoder word dropout {args.get('input_dropout', 0)}, random transposition "
        f"±{args['transpose']} semitones."), "",
        f"![training curves]({args.get('curves_path', '../figures/training_curves.png')})", "",
        (f"Best validation greedy token accuracy {best['token_accuracy']:.4f} (exact clips {best['exact_clip_rate']:.3f}) "
        f"at {best['minutes']:.0f} min; this checkpoint is the one shipped."), "",
    ]
    if report:
        rec = report.get("reconstruction", {})
        lines += ["## Measured", "", "Greedy reconstruction (z = μ, argmax decoding):", "",
                  "| data | clips | token accuracy | exact-clip rate |", "| --- | --- | --- | --- |"]
        for key, label in (("test", "test split"), ("test_unseen", "test clips not in train"),
                           ("nottingham_44", "Nottingham, duple-meter tunes"), ("twinkle", "Twinkle theme")):
            r = rec.get(key)
            if isinstance(r, dict):
                lines.append(f"| {label} | {r['n_clips']} | {fmt(r['token_accuracy'], 4)} | {fmt(r['exact_clip_rate'])} |")
        lat = report["latent"]
        lines += ["", "Disentanglement by augmentation:", "",
                  (f"- pitch dims {lat['pitch_dims']}: C_pitch = {fmt(lat['c_pitch'])}, stability "
                  f"{fmt(lat['pitch_stability'], 2)} ({lat['n_pitch_clips']} clips)"),
                  (f"- rhythm dims {lat['rhythm_dims']}: C_rhythm = {fmt(lat['c_rhythm'])} "
                  f"({lat['n_rhythm_clips']} two-whole-note clips); overlap {lat['overlap']}"),
                  f"- {report['pca']['components_for_99_percent']} principal components hold 99 % of μ's variance", "",
                  "Knob effects (mean over songs; against the decoded unmodified song):", "",
                  "| songs | knob | pitch shift (st) | rhythm change | steps changed | density ratio |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for key, label in (("knobs_twinkle", "Twinkle"), ("knobs_test_songs", "test songs"),
                           ("knobs_nottingham", "Nottingham")):
            block = report.get(key)
            if not isinstance(block, dict):
                continue
            for knob, r in block.items():
                lines.append(f"| {label} ({r['n_songs']}) | {knob} {r['amount']:+g} | {fmt(r['pitch_shift'], 2)} | "
                             f"{fmt(r['rhythm_change'])} | {fmt(r.get('steps_changed'))} | {fmt(r['density_ratio'], 2)} |")
        lines += fidelity_lines(report)
        lines += variants_table(report.get("pitch_knobs"), "pitch", "pitch_shift", "pitch shift (st)", (
            "Ways to turn the pitch knob, each moving only the pitch dims: `linear` adds the least-squares "
            "slope of Δ_p per semitone (DESIGN); `transport` applies, per shift p, an affine map of the pitch dims "
            "fitted on the pairs (μ(x), μ(F_p x)), so each clip follows its own path; `curve` (models with a "
            "pitch-tied dim) moves the tied dim through a monotone mean-pitch → z curve, calibrated on validation "
            "songs so that +1 plays one semitone. Shipped: "
            f"`{report.get('pitch_knob', 'linear')}`."))
        lines += variants_table(report.get("rhythm_knobs"), "rhythm", "density_ratio", "density ratio", (
            "Calibrations of the rhythm knob's +1: on the rhythm dims, the mean Δz of splitting every "
            "note in two over the validation clips whose notes split (`songs`) or over the two-whole-note clips "
            "of the analysis (`whole_notes`); `curve` (models with a density-tied dim) moves the tied dim through "
            "an onset-count → z curve so that +1 plays twice the notes. Shipped: "
            f"`{report.get('rhythm_knob') if report.get('rhythm_knob') == 'curve' else report.get('rhythm_unit')}`."))
    if report:
        lines += ["", *faithful_lines(report)]
    lines += ["", "## Limits", "",
              ("Trained on European folk melodies in duple meters: other styles, meters and very wide or fast "
              "melodies reconstruct less well. Monophonic only (chords are reduced to their top note)."), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default="runs/small", help="the run folder train.py wrote")
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--out", default=str(ROOT / "assets" / "model"))
    ap.add_argument("--figures", default=str(ROOT / "assets" / "figures"))
    ap.add_argument("--where", default=None, help="where the last run trained (default: 'on 2 CPU cores')")
    ap.add_argument("--history", default=None, help="a sentence on the runs before the last one (fine-tuning)")
    ap.add_argument("--metrics-name", default="shipped_metrics.jsonl", help="name of the run's metrics in OUT/runs/")
    ap.add_argument("--faithful-only", action="store_true",
                    help="only write OUT/README.md's faithful-encoding section again, from OUT/report.json (no run needed)")
    args = ap.parse_args()
    run, out, figs = Path(args.run_dir), Path(args.out), Path(args.figures)
    if args.faithful_only:
        readme = out / "README.md"
        readme.write_text(with_faithful_section(readme.read_text(), json.loads((out / "report.json").read_text())))
        print("wrote the faithful-encoding section of", readme)
        return
    out.mkdir(parents=True, exist_ok=True)
    figs.mkdir(parents=True, exist_ok=True)
    if (run / "model").resolve() != out.resolve():
        for name in ("config.json", "model.safetensors"):
            shutil.copy(run / "model" / name, out / name)
    model = load_folder(out)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    curves(metrics, figs / "training_curves.png")
    (out / "runs").mkdir(exist_ok=True)
    shutil.copy(run / "metrics.jsonl", out / "runs" / args.metrics_name)
    meta = json.loads(Path(args.data).with_suffix(".json").read_text())
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    run_args = json.loads((run / "args.json").read_text())
    run_args["curves_path"] = os.path.relpath(figs / "training_curves.png", out)
    if args.where:
        run_args["where"] = f" {args.where}"
    if args.history:
        run_args["history"] = args.history.strip() + " "
    (out / "README.md").write_text(card(model, run_args, metrics, meta, report))
    print("wrote", out / "README.md", "and", figs / "training_curves.png")


if __name__ == "__main__":
    main()
