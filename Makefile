# Two commands do all set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
DEVICE ?= auto
# Official dataset files, used when present so that no download is needed.
SHARED_DATA ?= ../shared/data
export VAEDYN_DATA ?= $(CURDIR)/data
export VAEDYN_ARTIFACTS ?= $(CURDIR)/artifacts

.PHONY: book html test data browser benchmark sweep long-train clean-venv

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Copy the official .gz files into $(VAEDYN_DATA) when they are beside the project;
# otherwise torchvision downloads them on first use.
data:
	@for d in MNIST FashionMNIST; do \
	  if [ ! -d "$(VAEDYN_DATA)/$$d/raw" ] && [ -d "$(SHARED_DATA)/$$d/raw" ]; then \
	    mkdir -p "$(VAEDYN_DATA)/$$d/raw" && cp "$(SHARED_DATA)/$$d/raw/"*.gz "$(VAEDYN_DATA)/$$d/raw/" && \
	    echo "copied $$d into $(VAEDYN_DATA)"; \
	  fi; \
	done

# The rendered-book test drives Debian's Chromium with Playwright (Playwright's own browser
# download does not work offline). Installed here when missing and we may use apt.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "warning: chromium is missing and cannot be installed here; the browser test will be skipped"; fi; }

test: $(VENV)/.installed data browser
	$(PY) -m pytest

# Execute every chapter with papermill into book/ (ONLY="03_concept_distances ..." for some), then render.
book: $(VENV)/.installed data
	$(PY) -m vaedyn book --profile $(PROFILE) --device $(DEVICE) $(if $(ONLY),--only $(ONLY))
	$(MAKE) html

# Render the executed pages already in book/ without running anything.
html: $(VENV)/.installed
	$(VENV)/bin/jupyter-book build . -W --keep-going

benchmark: $(VENV)/.installed data
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/ensemble_throughput.py

# Train one shard of a latent-size grid, e.g. `make sweep GRID=fig8 PROFILE=paper SHARD=2/4 DEVICE=cuda`;
# without SHARD it reports what is still missing. DATASET defaults to mnist.
GRID ?= fig8
DATASET ?= mnist
sweep: $(VENV)/.installed data
	$(PY) -m vaedyn sweep --grid $(GRID) --profile $(PROFILE) --dataset $(DATASET) --device $(DEVICE) $(if $(SHARD),--shard $(SHARD))

# The long profile's models (issue 9: hours on 2 CPU cores), in the background and resumable:
# run it again after any stop and it continues from the last checkpoint. Keep the store outside
# the work tree, e.g. `make long-train VAEDYN_ARTIFACTS=$$HOME/vaedyn-artifacts`; the log is
# long-train.log in that store. MNIST's main model first, then its grids, then Fashion-MNIST's.
LONG_STEPS = train --profile long --dataset mnist; \
	sweep --profile long --dataset mnist --grid fig8 --shard 1/1; \
	sweep --profile long --dataset mnist --grid fig9 --shard 1/1; \
	train --profile long --dataset fashion_mnist; \
	sweep --profile long --dataset fashion_mnist --grid fig8 --shard 1/1; \
	sweep --profile long --dataset fashion_mnist --grid fig9 --shard 1/1
long-train: $(VENV)/.installed data
	@mkdir -p "$(VAEDYN_ARTIFACTS)"
	@echo "training the long profile in the background; follow it with: tail -f $(VAEDYN_ARTIFACTS)/long-train.log"
	@nohup sh -c 'echo "$(LONG_STEPS)" | tr ";" "\n" | while read -r step; do \
	  echo "== $$(date -u +%FT%TZ) vaedyn $$step"; $(PY) -m vaedyn $$step --device $(DEVICE) || exit 1; done' \
	  >> "$(VAEDYN_ARTIFACTS)/long-train.log" 2>&1 &

clean-venv:
	rm -rf $(VENV)
