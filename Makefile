# The two set-up commands of the README: `make demo` (the main job on the embedded default) and
# `make test`. Both install what they need first: the hashed lock locks/host.txt into the virtual
# environment $(VENV) (made here if missing), whatever Python or packages the machine has besides.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
LOOMCTL := $(VENV)/bin/loomctl
RUN_DIR ?= runs/loombench-lite
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The environment's tools (loomctl, uv, hadolint) first on PATH for every recipe and the tests.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install lock lock-check demo test bench bench-accel validate golden train-tiny-model report-shot

# Exactly the lock, every wheel checked against its sha256, then the project itself without
# dependencies (they are all in the lock).
install:
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --require-hashes --no-deps -r locks/host.txt
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .

# Re-resolve locks/host.txt (and images/lock-cpu.txt from it) with uv; the same inputs give the same
# bytes (scripts/lock.py says how a version moves). `lock-check` writes nothing, exits 1 when stale.
lock: install
	$(VPY) scripts/lock.py

lock-check: install
	$(VPY) scripts/lock.py --check

validate: install
	$(LOOMCTL) validate manifests/*.json
	$(LOOMCTL) pin --check manifests/loombench-lite.json

# The main job: run LOOMBench-lite on the shipped tiny model and gate it against golden/.
demo: validate
	$(LOOMCTL) run manifests/loombench-lite.json --out $(RUN_DIR)
	$(LOOMCTL) diff $(RUN_DIR) golden/loombench-lite

# Re-make the golden result (after a deliberate change), keeping its tolerance block.
golden: validate
	rm -rf runs/golden-candidate
	$(LOOMCTL) run manifests/loombench-lite.json --out runs/golden-candidate
	mkdir -p golden/loombench-lite
	rm -rf golden/loombench-lite/samples
	cp -r runs/golden-candidate/manifest.json runs/golden-candidate/scores.json \
	      runs/golden-candidate/environment.json runs/golden-candidate/samples golden/loombench-lite/

test: install
	$(VPY) -m pytest -q

bench: install
	$(VPY) -m loomctl.perf hashing overhead gate plan

# The lite tasks with the full cache and with each acceleration method: one table (score, delta and
# verdict against the full cache, tokens/s, peak memory).
bench-accel: install
	$(VPY) -m loomctl.perf accel

# Two stages (about 135 minutes on 2 cores): NIAH needles from scratch, then every lite task.
train-tiny-model: install
	$(VPY) scripts/train_tiny_model.py --out runs/tiny-loom-base --steps-scale 0.75
	$(VPY) scripts/train_tiny_model.py --init-from runs/tiny-loom-base --out manifests/models/tiny-loom --mix lite

# A screenshot of the HTML report of the demo run, for people to look at (needs Debian's chromium).
report-shot: demo
	$(LOOMCTL) report $(RUN_DIR) --golden golden/loombench-lite -o $(RUN_DIR)/report.html
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	  --disable-background-networking --disable-component-update --disable-sync \
	  --user-data-dir=$$(mktemp -d) --window-size=1200,3000 \
	  --screenshot=$(RUN_DIR)/report.png file://$(abspath $(RUN_DIR))/report.html
	@echo "screenshot: $(RUN_DIR)/report.png"
