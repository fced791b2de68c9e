# Quick start: `make run` opens the app on the built-in simulator; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench firmware clean pg-test dist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pressure-logger gui $(if $(PORT),--port $(PORT),)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -W error $(PYTEST_ARGS)

# the school-library tests against a throw-away PostgreSQL (Debian: apt-get install postgresql)
pg-test: $(STAMP)
	PL_REQUIRE_POSTGRES=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -W error tests/logger/pg $(PYTEST_ARGS)

# ruff everywhere; mypy must be clean on the three lower packages (gui: see docs/ARCHITECTURE.md)
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy firmware_protocol calibration logger

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/record_pty.py
	$(BIN)/python benchmarks/overview.py
	$(BIN)/python benchmarks/forget.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/gui_frame.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/review_timeline.py --hours 8

firmware:
	$(MAKE) -C firmware_protocol/firmware

# the one-folder application, which needs no Python: dist/pressure-logger/pressure-logger
# (packaging/pressure-logger.spec; smoke-test it with packaging/smoke.sh)
dist: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dist]"
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/pressure-logger.spec

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
