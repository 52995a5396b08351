import json

import pytest
from tiny_model import make_tiny_model_folder

from ui.model_tab import card_markdown
from vae.bundle import load_bundle, strip_front_matter


def test_a_folder_with_dims_json_gives_its_dims_card_and_no_report(tiny_model_dir):
    bundle = load_bundle(str(tiny_model_dir))
    raw = json.loads((tiny_model_dir / "dims.json").read_text())
    assert not bundle.dims_computed and "from dims.json" in bundle.dims_note
    assert bundle.space.latent_dim == bundle.model.config.latent_dim and bundle.space.pitch_dims.tolist() == raw["pitch_dims"]
    assert bundle.card.startswith("# Tiny test model") and bundle.report is None


def test_missing_or_misfit_dims_json_is_computed_from_the_examples(tmp_path):
    folder = make_tiny_model_folder(tmp_path / "m", with_dims=False)
    bundle = load_bundle(str(folder))
    assert bundle.dims_computed and "was not found" in bundle.dims_note and bundle.space.meta["n_pitch_clips"] > 0
    (folder / "dims.json").write_text(json.dumps({"pitch_dims": [0], "rhythm_dims": [1],
                                                  "pitch_direction": [0.0] * 5, "rhythm_direction": [0.0] * 5}))
    assert "dims.json is not usable (it is for a 5-dim latent, the model's is 16)" in load_bundle(str(folder)).dims_note
    with pytest.raises(ValueError, match="no example song"):
        load_bundle(str(folder), examples={})


def test_card_front_matter_is_stripped():
    assert strip_front_matter("---\nlicense: mit\n---\n# Card\n") == "# Card\n"
    assert strip_front_matter("# No front matter\n---\n") == "# No front matter\n---\n"


def test_card_image_links_become_urls_of_the_files_they_name(tiny_model_dir, tmp_path):
    import dataclasses

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "curves.png").write_bytes(b"png")
    (tmp_path / "model").mkdir()
    card = ("![curves](../figures/curves.png) ![gone](../figures/gone.png) ![web](https://x.org/a.png)\n"
            '![titled](../figures/curves.png "the curves") [a link](../figures/curves.png)')
    bundle = dataclasses.replace(load_bundle(str(tiny_model_dir)), card=card, card_dir=tmp_path / "model")
    served = card_markdown(bundle, lambda path: f"/file={path}")
    assert served == (f"![curves](/file={tmp_path}/figures/curves.png) ![gone](../figures/gone.png) "
                      f'![web](https://x.org/a.png)\n![titled](/file={tmp_path}/figures/curves.png "the curves") '
                      "[a link](../figures/curves.png)")
    assert card_markdown(bundle, lambda path: None) == card, "a file the page does not serve keeps its link"
    assert load_bundle(str(tiny_model_dir)).card_dir == tiny_model_dir
