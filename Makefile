# Quick start: `make run` opens the app on the built-in simulator; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-quick test-cpu lint format bench firmware clean pg-test dist

# pip compiles the dependencies' bytecode as it installs them; ours is compiled here too, and
# pytest's rewrite of every test module's asserts made once (a few seconds), where each of
# the test workers would otherwise do all of it at the same time on a fresh clone's first run
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m compileall -q firmware_protocol calibration logger gui scripts
	$(PYTEST) --collect-only -q > /dev/null
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pressure-logger gui $(if $(PORT),--port $(PORT),)

# The suite runs on WORKERS pytest-xdist processes. Most tests wait (on a pty, a simulator
# at real time, a subprocess, Qt), so more workers than the 2 cores pay. Measured here
# (1400 tests), alternating: 7 workers 63.8 and 68.4 s, 6 workers 67.4 and 70.4 s (an hour
# earlier, on a then quicker machine, 60-62 s and 63-68 s). 7 leave the CPU all but
# saturated; the suite also passed at 6 beside 3 and 4 busy processes (100-114 s). Each
# worker's start-up and collection costs ~1.5 s of CPU.
# `-n auto` would give 2. `make test WORKERS=1` runs serially. Bytecode is written
# (PYTHONDONTWRITEBYTECODE is dropped) so that workers and the many `python -m logger.cli`
# subprocesses do not recompile every module and rewrite every test's asserts each time.
WORKERS ?= 7
# Temporary files (every test's tmp_path, the throw-away PostgreSQL clusters) go to memory
# when /dev/shm has 2 GB free: the syncs of SQLite and PostgreSQL to a real disk cost a good
# share of the suite's CPU (initdb: a third of the time on tmpfs). `make test TEST_TMPDIR=`
# keeps them on disk.
TEST_TMPDIR ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 2000000 {print "/dev/shm"}')
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) \
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -W error
# --maxschedchunk 2: a worker is handed two tests at a time, so the slow tests that
# tests/conftest.py puts first are spread over the workers instead of going to one
XDIST   = $(if $(filter-out 0 1,$(WORKERS)),-n $(WORKERS) --dist load --maxschedchunk 2,)

# everything, every test (CI runs this)
test: $(STAMP)
	$(PYTEST) $(XDIST) $(PYTEST_ARGS)

# the inner loop: not the tests marked slow, 20 examples per property test (where the test
# does not set its own number), stop at the first failure
test-quick: $(STAMP)
	$(PYTEST) $(XDIST) -m "not slow" --hypothesis-profile=quick -x $(PYTEST_ARGS)

# what makes the suite slow: `make test` that also writes build/test-cpu.txt, the CPU seconds
# of every test (its process and its subprocesses), the sum per file, and per worker the
# CPU spent outside any test (tests/cpu_per_test.py)
test-cpu: $(STAMP)
	PL_TEST_CPU=build/test-cpu.txt $(PYTEST) $(XDIST) $(PYTEST_ARGS)

# the school-library tests against a throw-away PostgreSQL (Debian: apt-get install postgresql)
pg-test: $(STAMP)
	PL_REQUIRE_POSTGRES=1 $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -W error tests/logger/pg $(PYTEST_ARGS)

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
