# rackplan: two commands to get going (see README.md).
#   make demo   set up .venv, plan the bundled AI hall, write a report, print where it is
#   make test   set up .venv and run the test suite
# Everything is installed into .venv from the package registry; nothing is needed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= rackplan-out

.PHONY: demo test fuzz bench schema clean help

help:
	@echo "make demo    plan the bundled AI building (power tree, CDUs) and write $(OUT)/report.html"
	@echo "make test    run the test suite (two workers; JOBS=0 runs it in one process)"
	@echo "make fuzz    run the property-based tests with many more examples"
	@echo "make bench   run the benchmarks in benchmarks/ and print their figures"
	@echo "make clean   remove .venv and outputs"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rackplan needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[highs,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rackplan plan facilities/ai-building.yaml --demand examples/ai-building-demand.yaml -o $(OUT)
	$(BIN)/rackplan compare facilities/ai-hall.yaml --demand examples/ai-hall-compare.yaml --samples 200 -o $(OUT)/compare
	@echo
	@echo "Report:     $(OUT)/report.html"
	@echo "Comparison: $(OUT)/compare/compare.html"

# The suite on JOBS pytest-xdist workers (JOBS=0: one process, no workers). --dist loadfile keeps each
# file on one worker: the browser tests share one Chromium, the NetBox tests one NetBox (whose session
# fixture may start it and stop it again). (--dist loadgroup with xdist_group marks cannot say this per
# test yet: pytest 9.2 ignores the node ids that xdist 3.8 rewrites for it, pytest-xdist issue 1386.)
# Python may cache bytecode here even where PYTHONDONTWRITEBYTECODE is set: without tests/__pycache__,
# pytest rewrites every test module's asserts again in each worker on every run. Property tests run a
# bounded, derandomized number of examples (tests/test_properties.py: 25 each, tests/test_safe_loading.py:
# 150 each); `make fuzz` runs many more, randomized (400 and 2,000 each; RACKPLAN_FUZZ_EXAMPLES sets the
# first).
JOBS ?= 2

test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile

fuzz: $(STAMP)
	RACKPLAN_FUZZ=1 PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(JOBS) tests/test_properties.py \
		tests/test_safe_loading.py

# Bytecode first, as a packaged install has it (pip compiles what it installs; an editable install and
# PYTHONDONTWRITEBYTECODE leave rackplan's own modules to be compiled again on every start).
bench: $(STAMP)
	$(BIN)/python -m compileall -q planner
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info

# A local NetBox for integration tests (tools/netbox/netbox.sh, docs/netbox-dev.md).
.PHONY: netbox-up netbox-down
netbox-up:
	tools/netbox/netbox.sh up

netbox-down:
	tools/netbox/netbox.sh down
