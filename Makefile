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

.PHONY: help venv demo test lint syntax sanity unit molecule e2e sim-up sim-down docker-check clean

help:
	@echo "make demo   bring the simulated Ascend cluster up and run site.yml on it"
	@echo "make test   lint, syntax, sanity, unit tests, molecule, and the sim end-to-end run"
	@echo "make sim-up / sim-down   the simulated cluster alone (NODES=$(NODES) CHIPS=$(CHIPS))"

$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.stamp

docker-check:
	@docker info >/dev/null 2>&1 || { echo "Docker is not reachable: install docker.io and start dockerd (see README)"; exit 1; }

sim-up: venv docker-check
	$(SIMCTL) up --nodes $(NODES) --chips $(CHIPS)

sim-down: docker-check
	$(SIMCTL) down

demo: sim-up
	$(BIN)/ansible-playbook site.yml -i inventories/sim

test: venv docker-check
	$(PY) -m pytest tests/unit tests/integration

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

molecule: venv docker-check
	$(PY) -m pytest -q tests/integration/test_molecule.py

e2e: venv docker-check
	$(PY) -m pytest -q tests/integration/test_sim_e2e.py

clean:
	-$(SIMCTL) down
	rm -rf build .cache
