# Two commands do all set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
DEVICE ?= auto
DATASET ?= mnist
# Official dataset files, used when present so that no download is needed.
SHARED_DATA ?= ../shared/data
export VAEDYN_DATA ?= $(CURDIR)/data
export VAEDYN_ARTIFACTS ?= $(CURDIR)/artifacts

.PHONY: book test data benchmark clean-venv

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

test: $(VENV)/.installed data
	$(PY) -m pytest

book: $(VENV)/.installed data
	$(PY) -m vaedyn train --dataset $(DATASET) --nz 100 --profile $(PROFILE) --device $(DEVICE)

benchmark: $(VENV)/.installed data
	$(PY) benchmarks/train_throughput.py

clean-venv:
	rm -rf $(VENV)
