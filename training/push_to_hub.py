"""Publish a model folder to the Hugging Face Hub, after checking that it loads.

    python training/push_to_hub.py assets/model user/melody-knobs [--private] [--token hf_...]
    python training/push_to_hub.py runs/small/model user/melody-knobs --revision experiment --message "60 min run"
    python training/push_to_hub.py assets/model user/melody-knobs --dry-run     # check only

The folder must hold config.json and model.safetensors that load with strict key checking; every
other file in it (dims.json, report.json, README.md ...) is uploaded beside them. The token
defaults to the saved login (``hf auth login``) or ``$HF_TOKEN``; ``$HF_ENDPOINT`` picks another
Hub. Prints the commit sha: pin the app to it with ``MELODY_KNOBS_REVISION=<sha>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_folder
from vae.hub import DEFAULT_COMMIT_MESSAGE, ENV_MODEL, ENV_REVISION, HubAccess, push_model

EXPECTED_EXTRAS = ("dims.json", "report.json", "README.md")  # what the shipped folder carries (DESIGN.md)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help=f"model folder with {CONFIG_FILE} and {WEIGHTS_FILE}")
    parser.add_argument("repo_id", help="Hub model repo, 'user/name' or 'org/name' (created if missing)")
    parser.add_argument("--revision", default=None, help="branch to commit to (created if missing); default main")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--token", default=None, help="Hub token with write access; default: saved login/$HF_TOKEN")
    parser.add_argument("--message", default=DEFAULT_COMMIT_MESSAGE, help="commit message")
    parser.add_argument("--dry-run", action="store_true", help="check the folder, push nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        model = load_folder(args.folder)
    except (OSError, ValueError) as err:
        print(f"error: {args.folder} is not a loadable model folder: {err}", file=sys.stderr)
        sys.exit(2)
    n_params = sum(p.numel() for p in model.parameters())
    size_mb = (args.folder / WEIGHTS_FILE).stat().st_size / 1e6
    print(f"{args.folder}: ok, {n_params:,} parameters, {WEIGHTS_FILE} {size_mb:.1f} MB, config {model.config}")
    missing = [name for name in EXPECTED_EXTRAS if not (args.folder / name).is_file()]
    if missing:
        print(f"note: {', '.join(missing)} missing; the app and the model card expect them", file=sys.stderr)
    if args.dry_run:
        return

    try:
        result = push_model(args.folder, args.repo_id, revision=args.revision, private=args.private,
                            commit_message=args.message, access=HubAccess(token=args.token))
    except (OSError, ValueError) as err:  # the Hub's HTTP errors are OSErrors
        print(f"error: pushing to {args.repo_id} failed: {err}", file=sys.stderr)
        sys.exit(1)
    print(f"pushed {args.repo_id} @ {result.revision}: commit {result.commit}")
    print(f"  {result.commit_url}")
    print(f"  use it: {ENV_MODEL}={args.repo_id} {ENV_REVISION}={result.commit} python app.py")


if __name__ == "__main__":
    main()
