"""Inspect the latent space of a model: the paper's figures 2-10, dims.json and report.json.

    python training/inspect_latent.py --model assets/model --data data/clips.npz \
        --eval eval.json --out assets/model --figures assets/figures \
        --compare paper=assets/model-paper/report.json

1. The knobs (dims.json), fitted on the validation split only: disentanglement by augmentation
   on validation clips, and for a model with attribute-tied dims the attribute curves, calibrated
   on validation songs (vae.curves).
2. The paper's analysis on test clips: PCA of mu (fig. 2); |mean dz| per dimension under
   transposition (fig. 3) and under note splitting of two-whole-note clips (fig. 4); pitch dims
   = top 2, rhythm dims = top 5; whether it finds the tied dims.
3. report.json: concentrations, stability, overlap, knob effects with random controls, knob
   fidelity (linearity and gain) and rest agreement on the Twinkle theme, on >= 20 test songs and
   on Nottingham (when ../shared/eval/nottingham exists), every variant of each knob, plus the
   reconstruction numbers of evaluate.py.
4. Figs. 6-9: the Twinkle theme under the pitch, rhythm and residual knobs with the controls, and
   a 5 x 5 interpolation grid between two test clips; fig. 10: knob fidelity, beside --compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from vae import curves, knobs, pianoroll
from vae.augment import transposable, transpose
from vae.dataset import draw_songs, read_data
from vae.dims import KNOBS, PITCH_KNOBS, RHYTHM_KNOBS, Discovery, KnobSpace, discover_dims
from vae.hub import load_model
from vae.inference import FIT_LR, FIT_STEPS, encode_mu
from vae.knobs import Knobs
from vae.measures import KnobMove, fitted_accuracy, knob_effects, knob_fidelity, rest_agreement
from vae.melody import clip_is_valid, load_melody, split_clips
from vae.song import folder_songs

ROOT = Path(__file__).resolve().parents[1]
TWINKLE = ROOT / "assets" / "examples" / "twinkle.mid"
NOTTINGHAM = ROOT.parent / "shared" / "eval" / "nottingham"
KNOB_MOVES = {"pitch": 5.0, "rhythm": 1.0, "residual": 2.0}  # the moves of DESIGN's targets


def save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print("wrote", path)


def pca_figure(mu: torch.Tensor, path: Path) -> dict:
    """Paper fig. 2: sorted variance of the principal components and their cumulative share."""
    centred = mu - mu.mean(0)
    var = torch.linalg.svdvals(centred).pow(2) / (len(mu) - 1)
    share = (var / var.sum()).cumsum(0)
    n99 = int((share < 0.99).sum()) + 1
    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.semilogy(var.numpy(), ".-", ms=3)
    ax1.set(title="variance of each principal component", xlabel="component", ylabel="variance")
    ax2.plot(share.numpy(), ".-", ms=3)
    ax2.axhline(0.99, color="grey", lw=0.8, ls="--")
    ax2.axvline(n99 - 1, color="C3", lw=0.8)
    ax2.set(title=f"cumulative share: {n99} components hold 99 %", xlabel="component", ylabel="share", ylim=(0, 1.02))
    save(fig, path)
    return {"components_for_99_percent": n99, "variance": var.tolist(), "n_clips": len(mu)}


def deltas_figure(deltas: np.ndarray, labels: list[str], dims: list[int], title: str, path: Path) -> None:
    """Paper figs. 3-4: |mean dz| per latent dimension for each transform, chosen dims marked."""
    absd = np.abs(np.asarray(deltas))
    fig = Figure(figsize=(10, 1.2 + 0.32 * len(labels) + 2.2))
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[0.32 * len(labels) + 0.6, 2.2], sharex=True)
    im = ax1.imshow(absd, aspect="auto", cmap="magma_r", interpolation="nearest")
    ax1.set_yticks(range(len(labels)), labels)
    ax1.set_title(title)
    fig.colorbar(im, ax=ax1, fraction=0.02, pad=0.01, label="|mean Δz|")
    score = absd.sum(0)
    colors = ["C3" if d in dims else "C0" for d in range(len(score))]
    ax2.bar(range(len(score)), score, color=colors, width=0.9)
    for d in dims:
        ax2.annotate(str(d), (d, score[d]), ha="center", va="bottom", fontsize=8, color="C3")
    ax2.set(xlabel="latent dimension", ylabel="Σ |mean Δz|", xlim=(-0.5, len(score) - 0.5))
    save(fig, path)


def rolls_figure(rows: list[tuple[str, np.ndarray, np.ndarray | None]], path: Path) -> None:
    """Piano rolls stacked: (title, tokens, the tokens to compare against or None)."""
    images = [pianoroll.piano_roll(tokens, compare=ref, title=title, size=(1100, 260))
              for title, tokens, ref in rows]
    pianoroll.save_png(np.concatenate(images, axis=0), path)
    print("wrote", path)


def grid_figure(cells: np.ndarray, path: Path) -> None:
    """Paper fig. 9: the app's n x n grid (n, n, 32) as its thumbnails; rows move pitch, columns move rhythm."""
    n, images = len(cells), pianoroll.thumbnails(cells)
    fig = Figure(figsize=(2.1 * n, 1.45 * n))
    axes = fig.subplots(n, n)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(images[i * n + j])
            ax.set_xticks([])
            ax.set_yticks([])
            pitch_t, rhythm_t = knobs.grid_caption(i, j, n).split(" · ")
            if j == 0:
                ax.set_ylabel(pitch_t, fontsize=8)
            if i == n - 1:
                ax.set_xlabel(rhythm_t, fontsize=8)
    fig.suptitle("source (top left) → target (bottom right)")
    save(fig, path)


def song_effects(model, songs: list[np.ndarray], space: KnobSpace, desc: str, names: tuple[str, ...] = KNOBS) -> dict:
    """Knob effects averaged over songs, each knob with its random control."""
    out = {}
    for knob, amount in ((k, KNOB_MOVES[k]) for k in names):
        for control in ([False, True] if knob != "residual" else [False]):
            rows = [knob_effects(model, s, space, KnobMove(amount, knob=knob, control=control, seed=k))
                    for k, s in enumerate(tqdm(songs, desc=f"{desc} {knob}{' control' if control else ''}"))]
            summary = {"amount": amount, "n_songs": len(rows)}
            for key in ("pitch_shift", "rhythm_change", "steps_changed", "density_ratio"):
                values = [r[key] for r in rows if r[key] is not None]
                summary[key] = float(np.mean(values)) if values else None
                summary[f"{key}_median"] = float(np.median(values)) if values else None
            out[f"{knob}{'_control' if control else ''}"] = summary
    return out


def pitch_paths_figure(model, clips: np.ndarray, dims: list[int], path: Path, n: int = 8) -> None:
    """Where transposition takes single clips in the plane of the two pitch dims: a straight knob
    can follow these paths only where they are straight (the transport knob follows each)."""
    kept = clips[transposable(clips, 12) & (clips < 128).any(axis=1)][:n]
    mu = torch.stack([encode_mu(model, transpose(kept, p)) for p in range(13)])  # (13, n, D)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    for i in range(len(kept)):
        xy = mu[:, i, dims[:2]].numpy()
        ax.plot(xy[:, 0], xy[:, 1], "-", lw=1, alpha=0.8)
        ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(13), cmap="viridis", s=18, zorder=3)
        ax.annotate("0", xy[0], fontsize=7)
    ax.set_xlabel(f"z[{dims[0]}]")
    ax.set_ylabel(f"z[{dims[1]}]")
    ax.set_title("μ of single clips transposed by 0..12 semitones (colour: p)", fontsize=9)
    save(fig, path)


def song_sets(data, args) -> dict[str, list[np.ndarray]]:
    """The songs every knob measure runs on: Twinkle, test songs and Nottingham songs (none without the folder)."""
    nottingham = Path(args.nottingham)
    return {"twinkle": [load_melody(TWINKLE).tokens], "test_songs": draw_songs(data, "test", args.n_songs, seed=args.seed),
            "nottingham": folder_songs(nottingham, args.n_nottingham, seed=args.seed) if nottingham.is_dir() else []}


def fidelity_figure(reports: dict[str, dict], path: Path) -> None:
    """Knob value -> what the decoder played, one line per model and song set (DESIGN "Knob fidelity")."""
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    styles = {"test_songs": "-o", "twinkle": "--s", "nottingham": ":^"}
    for ax, knob in zip(axes, ("pitch", "rhythm"), strict=True):
        lo, hi = (-12, 12) if knob == "pitch" else (-2, 2)
        ax.plot([lo, hi], [lo, hi], color="#adb5bd", lw=1, label="the label (gain 1)")
        for (label, report), color in zip(reports.items(), ("#d9480f", "#1c7ed6", "#2b8a3e"), strict=False):
            for name, fid in report.get("fidelity", {}).get(knob, {}).items():
                ax.plot(fid["amounts"], fid["median"], styles.get(name, "-"), color=color, ms=4, lw=1.2,
                        label=f"{label}, {name.replace('_', ' ')} (R² {fid['r2']:.2f}, gain {fid['gain']:.2f})")
        unit = "semitones" if knob == "pitch" else "log2 of the density ratio"
        ax.set(xlabel=f"{knob} knob", ylabel=f"measured: {unit}", title=f"{knob} knob: median over songs")
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    save(fig, path)


def knob_space(model, data, args) -> tuple[KnobSpace, dict]:
    """The knobs, fitted on the validation split: discovery, then (for a regularised model) the curves."""
    val = data["val_clips"]
    val = val[np.random.default_rng(args.seed).permutation(len(val))[: args.n_clips]]
    bar = tqdm(total=100, desc="disentanglement by augmentation (validation clips)", unit="%")
    space = discover_dims(model, val, Discovery(seed=args.seed, pitch_knob="transport", rhythm_unit="songs"),
                          progress=lambda f, msg: bar.update(round(100 * f) - bar.n))
    bar.close()
    fitted = curves.fit_curves(model, val, draw_songs(data, "val", args.n_songs, seed=args.seed), seed=args.seed)
    space = space.with_curves(fitted)
    pitch_knob = args.pitch_knob or ("curve" if "pitch" in fitted else "transport")
    rhythm_knob = args.rhythm_knob or ("curve" if "rhythm" in fitted else "linear")
    space = replace(space, pitch_knob=pitch_knob, rhythm_knob=rhythm_knob)
    space.meta["method"] = (
        "disentanglement by augmentation on validation clips: pitch dims = top 2 of Σ_p |mean Δz| over "
        "transpositions p = 1..12; rhythm dims = top 5 of Σ_n |mean Δz| over splits n = 2, 4, 8, 16 of two-whole-note "
        f"clips. Pitch knob: {pitch_knob}; rhythm knob: {rhythm_knob}. 'curve' = the attribute-tied dim moved "
        "through a monotone attribute→z curve fitted on validation clips spread over ±12 semitones, calibrated "
        "on validation songs so that +1 plays one semitone (pitch) or twice the notes (rhythm); 'transport' = "
        "one affine map within the pitch dims per shift; 'linear' = the least-squares slope of Δ_p (pitch) or "
        "mean Δz of a split in 2 of the validation clips whose notes split (rhythm).")
    space.meta["data"] = {"clips": f"{len(val)} validation-split clips of {args.data}",
                         "songs": f"{args.n_songs} validation songs of 8 bars or more", "seed": args.seed}
    return space, fitted


def faithful_figure(reports: dict[str, dict], path: Path) -> None:
    """Rest agreement of every song, the model's own reading (μ) against faithful encoding, one panel per model."""
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, len(reports), squeeze=False)[0]
    for ax, (label, report) in zip(axes, reports.items(), strict=True):
        rest = report["faithful"]["rest_agreement"]
        for name, color in (("test_songs", "#1c7ed6"), ("nottingham", "#2b8a3e")):
            if name not in rest:
                continue
            mu, fitted = (sorted(rest[name][r]["per_song"]) for r in ("mu", "fitted"))
            ax.plot(range(1, len(mu) + 1), mu, "o", color=color, ms=3.5, mfc="none",
                    label=f"{name.replace('_', ' ')}, model's reading (μ): min {mu[0]:.2f}")
            ax.plot(range(1, len(fitted) + 1), fitted, "o", color=color, ms=3.5,
                    label=f"{name.replace('_', ' ')}, faithful: min {fitted[0]:.2f}")
        ax.axhline(0.95, color="#adb5bd", lw=0.8, ls="--")
        ax.set(xlabel="songs, from the worst", ylabel="steps played back at rest", ylim=(0.45, 1.02),
               title=f"{label}: the song at rest")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    save(fig, path)


def faithful_measures(model, space: KnobSpace, data, sets: dict[str, list[np.ndarray]], n_clips: int, seed: int) -> dict:
    """Faithful encoding (DESIGN "Measures"), μ beside fitted z: reconstruction of test and Nottingham clips, rest
    agreement, and the knobs' effects and fidelity from the fitted latents, as the app serves them by default."""
    rng = np.random.default_rng(seed)
    clip_sets = {"test": data["test_clips"]}
    if sets.get("nottingham"):
        clips = np.concatenate([split_clips(s) for s in sets["nottingham"]])
        clip_sets["nottingham_44"] = clips[clip_is_valid(clips)]
    out = {"fit": {"max_steps": FIT_STEPS, "lr": FIT_LR, "early_stop": "a clip stops once its greedy decode is the clip"},
           "reconstruction": {}}
    for name, clips in clip_sets.items():
        clips = clips[rng.permutation(len(clips))[:n_clips]]
        with tqdm(total=100, desc=f"fitting {name} clips", unit="%") as bar:
            out["reconstruction"][name] = fitted_accuracy(model, clips, progress=lambda f, _m, b=bar: b.update(
                round(100 * f) - b.n))
    out["rest_agreement"] = {name: {"fitted": rest_agreement(model, songs), "mu": rest_agreement(model, songs, False)}
                             for name, songs in sets.items()}
    out["knobs"] = {name: song_effects(model, songs, space, f"fitted {name}") for name, songs in sets.items()}
    out["fidelity"] = {k: {name: knob_fidelity(model, songs, space, k) for name, songs in sets.items()}
                       for k in ("pitch", "rhythm")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "assets" / "model"))
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--eval", default=None, help="JSON written by evaluate.py, copied into report.json")
    ap.add_argument("--out", default=str(ROOT / "assets" / "model"), help="where dims.json and report.json go")
    ap.add_argument("--figures", default=str(ROOT / "assets" / "figures"))
    ap.add_argument("--compare", nargs="*", default=[], metavar="LABEL=REPORT",
                    help="other models' report.json drawn beside this one in the knob-fidelity figure")
    ap.add_argument("--label", default=None, help="this model's name in the figures (default: the folder's name)")
    ap.add_argument("--n-clips", type=int, default=3000, help="clips for discovery (validation) and analysis (test)")
    ap.add_argument("--n-songs", type=int, default=24, help="songs (>= 8 bars) per split for calibration and measures")
    ap.add_argument("--n-nottingham", type=int, default=40)
    ap.add_argument("--nottingham", default=str(NOTTINGHAM), help="folder of Nottingham MIDI files, read when present")
    ap.add_argument("--pitch-knob", choices=PITCH_KNOBS, default=None,
                    help="the shipped pitch knob (default: curve for a regularised model, else transport); all are measured")
    ap.add_argument("--rhythm-knob", choices=RHYTHM_KNOBS, default=None,
                    help="the shipped rhythm knob (default: curve for a regularised model, else linear); all are measured")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--faithful-only", action="store_true",
                    help="only measure faithful encoding (μ beside fitted z) with the model's own dims.json, into "
                         "OUT/report.json's 'faithful' entry (the rest of the report stays)")
    ap.add_argument("--figure-only", action="store_true",
                    help="only redraw fig. 10 from OUT/report.json and --compare (no measuring)")
    args = ap.parse_args()
    if args.figure_only:
        others = {lab: json.loads(Path(rep).read_text()) for lab, rep in (c.split("=", 1) for c in args.compare)}
        mine = json.loads((Path(args.out) / "report.json").read_text())
        fidelity_figure({args.label or mine.get("label", "this model"): mine, **others},
                        Path(args.figures) / "fig10_knob_fidelity.png")
        return
    t0 = time.time()
    torch.set_num_threads(2)
    if args.faithful_only:
        model = load_model(args.model, fallback=False)
        space = KnobSpace.from_json(json.loads((Path(args.model) / "dims.json").read_text()))
        data = read_data(args.data)
        sets = song_sets(data, args)
        path = Path(args.out) / "report.json"
        report = json.loads(path.read_text())
        report["faithful"] = faithful_measures(model, space, data, {k: v for k, v in sets.items() if v}, 2000, args.seed)
        report["faithful"]["seconds"] = round(time.time() - t0, 1)
        path.write_text(json.dumps(report, indent=2))
        print(json.dumps({k: v for k, v in report["faithful"].items() if k in ("reconstruction", "fit")}, indent=2))
        others = {lab: json.loads(Path(rep).read_text()) for lab, rep in (c.split("=", 1) for c in args.compare)}
        faithful_figure({args.label or report.get("label", "this model"): report,
                         **{lab: r for lab, r in others.items() if "faithful" in r}}, Path(args.figures) / "fig11_faithful.png")
        return
    out, figs = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figs.mkdir(parents=True, exist_ok=True)
    label = args.label or Path(args.model).name

    model = load_model(args.model, fallback=False)
    data = read_data(args.data)
    weights = Path(model.source_info.path) / "model.safetensors"
    space, fitted = knob_space(model, data, args)
    space.meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    saved = space.to_json()
    (out / "dims.json").write_text(json.dumps(saved))

    # The paper's analysis, as DESIGN "Measures" defines it: on test clips.
    test = data["test_clips"]
    test = test[np.random.default_rng(args.seed).permutation(len(test))[: args.n_clips]]
    bar = tqdm(total=100, desc="disentanglement by augmentation (test clips)", unit="%")
    analysis = discover_dims(model, test, Discovery(seed=args.seed),
                             progress=lambda f, msg: bar.update(round(100 * f) - bar.n))
    bar.close()
    found = analysis.to_json()
    tied = {knob: c["dim"] for knob, c in fitted.items()}
    print(f"test clips: pitch dims {found['pitch_dims']} C={found['c_pitch']:.3f} stability={found['pitch_stability']:.2f}; "
          f"rhythm dims {found['rhythm_dims']} C={found['c_rhythm']:.3f}; overlap {found['overlap']}; tied dims {tied}")

    mu = encode_mu(model, test)
    pca = pca_figure(mu, figs / "fig2_pca.png")
    deltas_figure(found["pitch_deltas"], [f"+{p}" for p in found["shifts"]], found["pitch_dims"],
                  f"{label}: transposition, |mean Δz| per dimension (paper fig. 3)", figs / "fig3_pitch_dims.png")
    deltas_figure(found["rhythm_deltas"], [f"n={n}" for n in found["splits"]], found["rhythm_dims"],
                  f"{label}: note splitting, |mean Δz| per dimension (paper fig. 4)", figs / "fig4_rhythm_dims.png")
    pitch_paths_figure(model, test, found["pitch_dims"], figs / "fig5_pitch_paths.png")

    twinkle = load_melody(TWINKLE).tokens
    # The app's knob path: knobs.apply with the app's random-control seed.
    base = knobs.apply(model, space, twinkle, Knobs())
    knob = {k: knobs.apply(model, space, twinkle, Knobs(**{k: a})) for k, a in KNOB_MOVES.items()}
    control = {k: knobs.apply(model, space, twinkle, Knobs(control=True, **{k: KNOB_MOVES[k]})) for k in ("pitch", "rhythm")}
    rolls_figure([("Twinkle theme, decoded", base, None),
                  (f"pitch knob +{KNOB_MOVES['pitch']:g} (paper fig. 6a)", knob["pitch"], base),
                  (f"random control, same move on {len(space.pitch_dims)} random dims (fig. 6b)", control["pitch"], base)],
                 figs / "fig6_pitch_knob.png")
    rolls_figure([("Twinkle theme, decoded", base, None),
                  (f"rhythm knob +{KNOB_MOVES['rhythm']:g} (paper fig. 7a)", knob["rhythm"], base),
                  (f"random control on {len(space.rhythm_dims)} random dims (fig. 7b)", control["rhythm"], base)],
                 figs / "fig7_rhythm_knob.png")
    minus = knobs.apply(model, space, twinkle, Knobs(residual=-KNOB_MOVES["residual"]))
    rolls_figure([(f"residual knob +{KNOB_MOVES['residual']:g} (paper fig. 8)", knob["residual"], base),
                  (f"residual knob -{KNOB_MOVES['residual']:g}", minus, base)], figs / "fig8_residual_knob.png")

    grid_figure(knobs.grid(model, space, test[0], test[len(test) // 2], 5), figs / "fig9_grid.png")

    report = {"model": str(args.model), "label": label, "weights_sha256": saved["weights_sha256"],
              "config": {k: v for k, v in vars(model.config).items() if k.startswith(("reg_", "beta", "kl_"))},
              "pitch_knob": space.pitch_knob, "rhythm_knob": space.rhythm_knob,
              "rhythm_unit": saved["rhythm_unit"]["calibrated_on"],
              "latent": {k: found[k] for k in ("pitch_dims", "rhythm_dims", "c_pitch", "pitch_stability", "c_rhythm",
                                               "rhythm_stability", "overlap", "n_pitch_clips", "n_rhythm_clips")},
              "knob_dims": {"pitch_dims": saved["pitch_dims"], "rhythm_dims": saved["rhythm_dims"],
                            "tied_dims": tied, "notes": saved.get("curve_notes", []),
                            "found_on_validation": {"pitch": saved.get("found_pitch_dims", saved["pitch_dims"]),
                                                    "rhythm": saved.get("found_rhythm_dims", saved["rhythm_dims"])}},
              "curves": {k: {"rho": c.rho, "dim": c.dim, "attribute": c.attribute} for k, c in fitted.items()},
              "pca": {k: pca[k] for k in ("components_for_99_percent", "n_clips")}}
    report["latent"]["finds_tied_dims"] = {knob: dim in found[f"{knob}_dims"] for knob, dim in tied.items()}
    nottingham = Path(args.nottingham)
    sets = song_sets(data, args)
    for name, songs in sets.items():
        report[f"knobs_{name}"] = (song_effects(model, songs, space, name) if songs else
                                   "not measured: no songs of 8 bars or more" + f" in {nottingham}" * (name == "nottingham"))
    sets = {name: songs for name, songs in sets.items() if songs}
    report["fidelity"] = {k: {name: knob_fidelity(model, songs, space, k) for name, songs in sets.items()}
                          for k in ("pitch", "rhythm")}
    report["rest_agreement"] = {name: rest_agreement(model, songs) for name, songs in sets.items()}

    def variants(knob: str, shipped: str, alternatives: dict[str, KnobSpace]) -> dict:
        """The knob's effects under each variant of dims; the shipped one is taken from knobs_*."""
        return {kind: {name: ({k: v for k, v in report[f"knobs_{name}"].items() if k.startswith(knob)}
                              if kind == shipped else song_effects(model, songs, alt, f"{kind} {name}", names=(knob,)))
                       for name, songs in sets.items()}
                for kind, alt in alternatives.items()}

    # Every way of each knob on the same songs: the DESIGN's straight knob, the transport maps, the curves.
    report["pitch_knobs"] = variants("pitch", space.pitch_knob,
                                     {kind: replace(space, pitch_knob=kind) for kind in PITCH_KNOBS
                                      if kind == "linear" or (kind == "transport" and space.transport)
                                      or (kind == "curve" and "pitch" in fitted)})
    rhythm_alternatives = {unit: replace(space, rhythm_knob="linear",
                                         directions={**space.directions, "rhythm": torch.tensor(d)})
                           for unit, d in saved["rhythm_directions"].items()}
    if "rhythm" in fitted:
        rhythm_alternatives["curve"] = replace(space, rhythm_knob="curve")
    shipped_rhythm = "curve" if space.rhythm_knob == "curve" else saved["rhythm_unit"]["calibrated_on"]
    report["rhythm_knobs"] = variants("rhythm", shipped_rhythm, rhythm_alternatives)
    if args.eval:
        report["reconstruction"] = json.loads(Path(args.eval).read_text())
    report["seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    others = {lab: json.loads(Path(rep).read_text()) for lab, rep in (c.split("=", 1) for c in args.compare)}
    fidelity_figure({label: report, **others}, figs / "fig10_knob_fidelity.png")
    print(json.dumps({k: v for k, v in report.items() if k.startswith(("latent", "knobs_", "rest"))}, indent=2))


if __name__ == "__main__":
    main()
