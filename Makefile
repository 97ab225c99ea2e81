# Two commands do all set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
DEVICE ?= auto
# Pages side by side on the CPU (the quick and smoke books); one at a time on a GPU or for long runs.
JOBS ?= $(if $(filter quick smoke,$(PROFILE)),2,1)
# Official dataset files, used when present so that no download is needed.
SHARED_DATA ?= ../shared/data
export VAEDYN_DATA ?= $(CURDIR)/data
export VAEDYN_ARTIFACTS ?= $(CURDIR)/artifacts

.PHONY: book html test data browser sound benchmark sweep long-train clean-venv

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

# The music chapter plays its piano rolls with FluidSynth and Debian's General MIDI soundfont (the clips are
# compressed by the `soundfile` package, which bundles libsndfile). Installed here when missing and we may
# use apt; otherwise (or if apt fails, e.g. offline) the chapter falls back to its plain synthesis.
SOUNDFONT ?= /usr/share/sounds/sf2/FluidR3_GM.sf2
sound:
	@{ command -v fluidsynth >/dev/null 2>&1 && [ -f "$(SOUNDFONT)" ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm >/dev/null; } || \
	    echo "warning: installing fluidsynth failed; the music chapter will use its plain synthesis"; \
	  else echo "warning: fluidsynth or its soundfont is missing and cannot be installed here; the music chapter will use its plain synthesis"; fi; }

test: $(VENV)/.installed data browser sound
	$(PY) -m pytest

# Execute every chapter with papermill into book/ (ONLY="03_concept_distances ..." for some), then render.
book: $(VENV)/.installed data sound
	$(PY) -m vaedyn book --profile $(PROFILE) --device $(DEVICE) --jobs $(JOBS) $(if $(ONLY),--only $(ONLY))
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
# the work tree, e.g. `make long-train VAEDYN_ARTIFACTS=$$HOME/vaedyn-artifacts`. One chain per
# dataset (main model, its kept snapshots, the seed spread's seeds 1-2, its Fig. 8 and Fig. 9 grids, the architecture
# runs: the short runs first, so that a session's end leaves whole pieces of the record), each on
# one thread, both at once: on 2 cores two 1-thread jobs trained about 20 % more epochs per hour than
# one 2-thread job, and a 2-thread job slows about 5x when anything else runs beside it. Logs: long-train-<dataset>.log in the store.
# The architecture runs only for the datasets that have a chapter 13 page (MNIST): on Fashion-MNIST they
# would cost about an hour of one thread for models no page reads.
LONG_DATASETS ?= mnist fashion_mnist
ARCHITECTURE_DATASETS ?= mnist
long-train: $(VENV)/.installed data
	@mkdir -p "$(VAEDYN_ARTIFACTS)"
	@for d in $(LONG_DATASETS); do \
	  echo "training the long profile for $$d in the background; follow it with: tail -f $(VAEDYN_ARTIFACTS)/long-train-$$d.log"; \
	  steps="'train' 'train --snapshots' 'train --spread --seed 1' 'train --spread --seed 2' 'sweep --grid fig8 --shard 1/1' 'sweep --grid fig9 --shard 1/1'"; \
	  case " $(ARCHITECTURE_DATASETS) " in *" $$d "*) steps="$$steps 'train --architectures'";; esac; \
	  OMP_NUM_THREADS=1 nohup sh -c "for step in $$steps; do \
	    echo \"== \$$(date -u +%FT%TZ) vaedyn \$$step --profile long --dataset $$d\"; \
	    $(PY) -m vaedyn \$$step --profile long --dataset $$d --device $(DEVICE) || exit 1; done" \
	    >> "$(VAEDYN_ARTIFACTS)/long-train-$$d.log" 2>&1 & \
	done

clean-venv:
	rm -rf $(VENV)
