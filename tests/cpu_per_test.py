"""CPU time per test, to find what makes the suite slow (``make test-cpu``).

Loaded by tests/conftest.py when ``PL_TEST_CPU`` names a file. For every test (set-up,
call and tear-down) it records the CPU time of the test process (all its threads) and that
of its subprocesses that ended meanwhile; a fixture shared by several tests is charged to
the first. Under pytest-xdist every worker sends its rows to the controller, which writes
one table: the tests by CPU, the sum per file, and per worker what went outside any test
(start-up, imports, collection). Servers that detach themselves (PostgreSQL) are not
counted: they are no child of the test process."""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENV = "PL_TEST_CPU"

Row = tuple[float, float, float, str]  # own_s, children_s, wall_s, nodeid


def _children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuPerTest:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: list[Row] = []
        self.workers: list[tuple[str, float, float]] = []  # name, total_s, in_tests_s

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        own_s, children_s, wall_s = time.process_time(), _children_s(), time.perf_counter()
        try:
            return (yield)
        finally:
            own_s = time.process_time() - own_s
            wall_s = time.perf_counter() - wall_s
            self.rows.append((own_s, _children_s() - children_s, wall_s, item.nodeid))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        total_s = time.process_time() + _children_s()
        in_tests_s = sum(own + children for own, children, _, _ in self.rows)
        output: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
        if output is not None:  # an xdist worker: the controller writes the table
            output["cpu_rows"] = [list(row) for row in self.rows]
            output["cpu_worker"] = [total_s, in_tests_s]
            return
        if self.workers:  # the xdist controller: its own CPU (the workers are its children)
            self.workers.append(("controller", time.process_time(), 0.0))
        else:
            self.workers.append(("this process", total_s, in_tests_s))
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(table(self.rows, self.workers))

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        self.rows += [
            (own, kids, wall, nodeid) for own, kids, wall, nodeid in output.get("cpu_rows", [])
        ]
        if "cpu_worker" in output:
            self.workers.append((node.gateway.id, *output["cpu_worker"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not hasattr(terminalreporter.config, "workeroutput"):
            terminalreporter.write_line(f"CPU per test: {self.out}")


def table(rows: list[Row], workers: list[tuple[str, float, float]]) -> str:
    tests = sorted(rows, key=lambda row: -(row[0] + row[1]))
    per_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for own, children, wall, nodeid in rows:
        entry = per_file[nodeid.split("::")[0]]
        entry[0] += own
        entry[1] += children
        entry[2] += wall
        entry[3] += 1
    files = sorted(per_file.items(), key=lambda item: -(item[1][0] + item[1][1]))
    in_tests_s = sum(own + children for own, children, _, _ in rows)
    lines = [
        f"# CPU seconds: {len(rows)} tests, {in_tests_s:.1f} s in tests",
        "# per worker: total, in tests, outside tests (start-up, imports, collection)",
    ]
    lines += [f"#   {name}: {t:.1f} {i:.1f} {t - i:.1f}" for name, t, i in sorted(workers)]
    head = f"{'cpu':>8} {'own':>7} {'child':>7} {'wall':>7}"
    lines += ["", "# per file", f"{head} {'tests':>5}  file"]
    lines += [
        f"{own + kids:8.2f} {own:7.2f} {kids:7.2f} {wall:7.2f} {int(n):5d}  {name}"
        for name, (own, kids, wall, n) in files
    ]
    lines += ["", "# per test", f"{head}  test"]
    lines += [
        f"{own + kids:8.2f} {own:7.2f} {kids:7.2f} {wall:7.2f}  {nodeid}"
        for own, kids, wall, nodeid in tests
    ]
    return "\n".join(lines) + "\n"
