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
	@echo "make test    run the test suite"
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

test: $(STAMP)
	$(BIN)/python -m pytest -q

fuzz: $(STAMP)
	RACKPLAN_FUZZ=1 $(BIN)/python -m pytest -q tests/test_properties.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info

# A local NetBox for integration tests (tools/netbox/netbox.sh, docs/netbox-dev.md).
.PHONY: netbox-up netbox-down
netbox-up:
	tools/netbox/netbox.sh up

netbox-down:
	tools/netbox/netbox.sh down
