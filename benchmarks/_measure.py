"""Helpers for the benchmarks: side-by-side timing, percentiles and memory, printed plainly.

Every benchmark measures KripTik and its baseline in the same run, interleaved, and prints
the ratio: a busy machine slows both alike, so the ratio holds where absolute times do not.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Rate", "pair", "peak_kib", "percentile", "rate", "rss_kib", "table"]


@dataclass(frozen=True)
class Rate:
    name: str
    per_s: float
    peak_kib: float


def rate(name: str, fn: Callable[[], object], *, seconds: float = 1.0, rounds: int = 5) -> Rate:
    """Operations per second of `fn`: the best of `rounds` runs of about `seconds` each
    (the best run is the one the machine disturbed least), plus its peak traced memory."""
    fn()  # warm up
    best = 0.0
    tracemalloc.start()
    for _ in range(rounds):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / rounds:
            fn()
            count += 1
        best = max(best, count / elapsed)
    peak = tracemalloc.get_traced_memory()[1] / 1024
    tracemalloc.stop()
    return Rate(name, best, peak)


def _best(fn: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        fn()
        count += 1
    return count / elapsed


def pair(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    *,
    rounds: int = 15,
    seconds: float = 0.1,
) -> tuple[float, float]:
    """Operations per second of each, measured in alternating short rounds (so a busy
    machine slows both alike); the best round of each."""
    ours(), theirs()
    a = b = 0.0
    for _ in range(rounds):
        a, b = max(a, _best(ours, seconds)), max(b, _best(theirs, seconds))
    return a, b


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_kib(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in KiB."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float("nan")


def peak_kib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # fmt: skip
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def cpu_note() -> str:
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs, load average {load:.1f} while measuring"
