# The two set-up commands of the README: `make demo` (the main job on the embedded default) and
# `make test`. Both install what they need first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
RUN_DIR ?= runs/loombench-lite

.PHONY: install demo test bench validate train-tiny-model

install:
	$(PIP) install --quiet --disable-pip-version-check torch==2.13.0
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev]'

validate: install
	loomctl validate manifests/*.json
	loomctl pin --check manifests/loombench-lite.json

demo: validate

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) -m loomctl.bench

train-tiny-model: install
	$(PYTHON) scripts/train_tiny_model.py --out manifests/models/tiny-loom --steps-scale 0.75
