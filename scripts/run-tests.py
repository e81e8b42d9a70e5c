"""`make test`: the whole suite as two pytest processes side by side, one report.

The suite spends much of its time waiting on other processes (the browser, `kriptik demo`
and `kriptik serve`, the workers' venv, dockerd, PostgreSQL), so on the 2-core CI machine
two shards take about half the wall time of one. The shards are split by directory:
`FIRST_SHARD` (browsers, served apps, worker venvs, and one directory more to even the
two) and everything else, so a new test directory can never be left out. Each shard writes
its output to out/test-shard-N.log, printed when it ends; a JUnit report asked for with
`--junitxml` in PYTEST_ADDOPTS (as .ci/run does) is written per shard and merged into the
path asked for.

`KRIPTIK_TEST_SHARDS=1 make test` runs one pytest process, as before. Extra arguments
(`make test ARGS="-k pipeline"`) go to every shard.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The directories whose tests mostly wait on browsers, served apps and worker venvs, and
# tests/security, which evens the two shards (CI's JUnit times: about 1,110 s of tests in
# this shard without it, 1,300 s in the other).
FIRST_SHARD = ("tests/e2e", "tests/workloads", "tests/simulator", "tests/webapp",
               "tests/connect", "tests/ui", "tests/security")  # fmt: skip


def _shards() -> list[list[str]]:
    everything = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").iterdir()
        if (p.is_dir() and any(p.glob("test_*.py")))
        or (p.name.startswith("test_") and p.suffix == ".py")
    )
    other = [p for p in everything if p not in FIRST_SHARD]
    return [list(FIRST_SHARD), other]


def _split_junit(addopts: str) -> tuple[list[str], Path | None]:
    """PYTEST_ADDOPTS without its --junitxml, and the report path it asked for."""
    kept: list[str] = []
    report = None
    for word in shlex.split(addopts):
        if word.startswith("--junitxml="):
            report = Path(word.split("=", 1)[1])
        else:
            kept.append(word)
    return kept, report


def _merge(parts: list[Path], report: Path, wall_s: float) -> None:
    """One <testsuite> with every shard's cases and summed counts (time: the wall time)."""
    merged = ET.Element("testsuite", name="pytest")
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for part in parts:
        if not part.is_file():
            continue  # a shard that crashed: its cases are missing, and it failed anyway
        root = ET.parse(part).getroot()  # noqa: S314 - the report our own pytest just wrote
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        if suite is None:
            continue
        for key in counts:
            counts[key] += int(suite.get(key, 0))
        merged.extend(suite.findall("testcase"))
    for key, value in counts.items():
        merged.set(key, str(value))
    merged.set("time", f"{wall_s:.1f}")
    report.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(report, encoding="utf-8", xml_declaration=True)


def _say(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def main(args: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest", *args]
    if os.environ.get("KRIPTIK_TEST_SHARDS") == "1":
        return subprocess.call(pytest, cwd=ROOT)  # noqa: S603 - our own interpreter and pytest
    kept, report = _split_junit(os.environ.get("PYTEST_ADDOPTS", ""))
    logs = ROOT / "out"
    logs.mkdir(exist_ok=True)
    started, running = time.monotonic(), []
    for number, paths in enumerate(_shards(), start=1):
        env = dict(os.environ, PYTEST_ADDOPTS=shlex.join(kept))
        part = report.with_suffix(f".shard{number}.xml") if report else None
        if part:
            env["PYTEST_ADDOPTS"] += f" --junitxml={part}"
        log = (logs / f"test-shard-{number}.log").open("w")
        _say(f"--- shard {number}: {' '.join(paths)} (output: out/test-shard-{number}.log)")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, pytest and test paths
            [*pytest, *paths], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        running.append((number, process, log, part))
    status = 0
    for number, process, log, _ in running:
        code = process.wait()
        log.close()
        if code == 5 and args:  # no test of this shard matched the caller's filter
            code = 0
        _say(f"--- shard {number} (exit {code})")
        _say((logs / f"test-shard-{number}.log").read_text())
        status = status or code
    if report:
        _merge([p for *_, p in running if p], report, time.monotonic() - started)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
