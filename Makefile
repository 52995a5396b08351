# make demo: set up and run the app on the bundled weights.  make test: set up and run the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := libfluidsynth3 chromium

.PHONY: demo test lint system setup train clean

demo: setup
	$(BIN)/python app.py

test: setup
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check .

# System packages (FluidSynth for audio, Chromium for the browser test), where we may install them.
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "please install: $$missing (audio falls back to a sine synth without libfluidsynth3)"; fi

setup: system $(VENV)/.installed

# The project installs as the package melody-knobs (editable: vae/ is imported from this checkout).
$(VENV)/.installed: requirements.txt requirements-train.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q -e .
	touch $@

# The regularised model from scratch on 2 CPU cores: ~2–3 min of data preparation, 85 min of training
# steps, ~15 min of measures. (The shipped model trained 7 + 2 min on a lent GPU, then 85 min on this
# CPU: its model card.) The paper-recipe model: the same with --recipe paper.
train: setup
	test -f data/clips.npz || $(BIN)/python training/prepare_data.py --recipe regularised
	$(BIN)/python training/train.py --recipe regularised  # vae/recipes.py; under torchrun: README "Train on your own MIDI"
	$(BIN)/python training/evaluate.py --model runs/regularised/model --data data/clips.npz --out runs/regularised/eval.json
	$(BIN)/python training/model_card.py --run-dir runs/regularised --out assets/model
	$(BIN)/python training/inspect_latent.py --model assets/model --eval runs/regularised/eval.json \
		--label regularised --compare paper=assets/model-paper/report.json
	$(BIN)/python training/model_card.py --run-dir runs/regularised --out assets/model

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
