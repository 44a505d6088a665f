# The README's commands. `make demo` and `make test` are the two a newcomer runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SIMCTL := tests/sim/simctl
NODES ?= 3
CHIPS ?= 8
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help check-host venv demo test lint syntax sanity unit molecule molecule-env molecule-all e2e sim-up sim-down docker-check clean perf

help:
	@echo "make demo   bring the simulated Ascend cluster up, run site.yml and benchmark.yml on it"
	@echo "make test   lint, syntax, sanity, unit tests, molecule, and the sim end-to-end run"
	@echo "make sim-up / sim-down   the simulated cluster alone (NODES=$(NODES) CHIPS=$(CHIPS))"
	@echo "make perf   deploy and re-run timings on a private sim cluster (after make demo)"
	@echo "make check-host   what demo/test/perf need on this machine (SKIP=name,name to override one)"

$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

# Runs first in demo, test and perf: every tool and condition they need, one line per missing item
# with its fix, before anything starts. CHECK_FOR is set by the target that asks.
CHECK_FOR ?= demo
check-host:
	@tests/sim/check-host --for $(CHECK_FOR) $(if $(SKIP),--skip $(SKIP))

docker-check:
	@docker info >/dev/null 2>&1 || { echo "Docker is not reachable: install docker.io and start dockerd (see README)"; exit 1; }

sim-up: venv docker-check
	$(SIMCTL) up --nodes $(NODES) --chips $(CHIPS)

sim-down: docker-check
	$(SIMCTL) down

# Deploy, then benchmark every node (the role's sweep of 5 concurrency levels) and print the
# report's path. A second `make demo` builds and moves nothing and benchmarks again.
demo: CHECK_FOR := demo
# npu.sglang.summary collects both runs in DEMO_SUMMARY and prints the whole after the last recap:
# servers, builds, requests, best throughput, time, then the report's path as the last line.
DEMO_SUMMARY := $(CURDIR)/.cache/demo-summary.jsonl
demo: check-host sim-up
	@mkdir -p .cache && : > $(DEMO_SUMMARY)
	NPU_SGLANG_SUMMARY_FILE=$(DEMO_SUMMARY) $(BIN)/ansible-playbook site.yml -i inventories/sim
	NPU_SGLANG_SUMMARY_FILE=$(DEMO_SUMMARY) $(BIN)/ansible-playbook playbooks/benchmark.yml -i inventories/sim

test: CHECK_FOR := test
test: check-host venv docker-check
	$(PY) -m pytest --durations=25 tests/unit tests/integration

lint: venv
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production

syntax: venv
	@for p in site.yml playbooks/*.yml; do \
	  $(BIN)/ansible-playbook --syntax-check -i inventories/prod "$$p" >/dev/null && echo "syntax ok: $$p"; \
	done

sanity: venv
	$(PY) -m pytest -q tests/integration/test_quality.py -k sanity

unit: venv
	$(PY) -m pytest -q tests/unit

# The scenarios CI runs (extensions/molecule; the long ones are in molecule-all).
molecule: venv docker-check
	$(PY) -m pytest -q tests/integration/test_molecule.py

# .env.yml, which molecule reads from the current directory when it renders molecule.yml: the
# simulated node image, the CANN stand-in and the benchmark client's image (built when missing);
# and the simulated model that the sglang_service scenario mounts, as simctl does. Afterwards a plain shell in this
# directory runs `molecule list` and `molecule test -s ROLE` (extensions/molecule/ROLE).
molecule-env: venv docker-check
	@$(PY) tests/sim/model/make_sim_model.py .sim/model/sim-model >/dev/null
	@node=$$($(PY) $(SIMCTL) build | tail -n 1); cann=$$($(PY) $(SIMCTL) cann | tail -n 2); \
	{ echo "---"; echo "NPU_SIM_IMAGE: $$node"; echo "NPU_SIM_CANN_IMAGE: $$(sed -n 1p <<<"$$cann")"; \
	  echo "NPU_SIM_CANN_ARCHIVE: $$(sed -n 2p <<<"$$cann")"; \
	  client=$$($(PY) $(SIMCTL) bench-client | tail -n 2); \
	  echo "NPU_SIM_BENCH_CLIENT_IMAGE: $$(sed -n 1p <<<"$$client")"; \
	  echo "NPU_SIM_BENCH_CLIENT_ARCHIVE: $$(sed -n 2p <<<"$$client")"; } > .env.yml; cat .env.yml

# Every scenario, also those too long for CI (BY_HAND in tests/integration/test_molecule.py).
molecule-all: venv docker-check
	MOLECULE_ALL=1 $(PY) -m pytest -q tests/integration/test_molecule.py

e2e: venv docker-check
	$(PY) -m pytest -q tests/integration/test_sim_e2e.py

# Deploy and re-run timings on a private sim cluster of its own (tests/perf/README.md).
perf: CHECK_FOR := perf
perf: check-host venv docker-check
	$(PY) tests/perf/perf.py $(PERF_ARGS)

clean:
	-$(SIMCTL) down
	rm -rf build .cache
