"""How many threads torch runs on, and how its idle OpenMP workers wait: chosen once at process start so that a run
keeps near its solo speed beside other work (another run, a build, a test suite) and keeps its solo speed alone.

torch's defaults are one thread per core with OpenMP workers that spin between parallel regions. Alone that is
fastest; when the cores are shared, a parallel region cannot finish until every one of its threads has been
scheduled, and the spinning workers of two processes take the cores from each other's threads: two runs at once on
2 cores took 4-19× their solo time. The policy (``docs/threads.md`` has the measurements):

1. **Wait policy**: ``GOMP_SPINCOUNT=20000`` (an idle worker spins about 20000 iterations, then sleeps, instead of
   GNU OpenMP's 300000), set in the environment by ``prepare()``, which must run before torch is imported (the
   OpenMP runtime reads it once, when torch loads it). Measured on an idle 2-core machine: a run alone as fast as
   with the default spin, where sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) took 40-47 % longer and a spin of
   2000 about 10 % longer; beside other work a run keeps within 1.3x of its solo time, against 3.5-7x with the
   default spin.
2. **Thread count**: from the cores the *other* processes leave free, measured by ``prepare()`` and ``apply()``
   over the interval between them (the import of torch, about a second, so it costs no extra time) from
   ``/proc/stat`` less this process's own CPU time:

       free = cores − (busy CPU seconds of the cores − this process's CPU seconds) / wall seconds
       threads = clamp(⌊default × free / cores + 0.5⌋, 1, default)

   where ``cores`` are the CPUs this process may run on and ``default`` is torch's own thread count.
   An idle machine keeps torch's default; a core kept busy by another process (or a second run starting beside
   this one) takes one thread away.

What the user sets wins: ``apply(threads)`` (the CLI's ``--threads N``), else ``OMP_NUM_THREADS``, sets the count;
an ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` already in the environment is left as it is (``GOMP_SPINCOUNT=300000``
gives back GNU OpenMP's default spinning). The spin count is GNU OpenMP's (torch's Linux wheels); other OpenMP
runtimes ignore it and keep their own waiting. Results can differ between thread counts (torch
splits some reductions by thread), so a byte-identical rerun needs the same count: pass ``--threads``.
Ray tasks reserve one CPU each, so they run on one thread unless the count was given explicitly (``task_threads``).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

THREADS_ENV = "OMP_NUM_THREADS"
WAIT_ENV = "OMP_WAIT_POLICY"
SPIN_ENV = "GOMP_SPINCOUNT"  # GNU OpenMP's spin count; when set it overrides what the wait policy implies
SPIN_COUNT = "20000"  # the policy: spin this many iterations, then sleep (GNU OpenMP's default is 300000)
MARGIN = 0.5  # round to the nearest: with idle workers asleep an extra thread on a half-busy core costs little
#               (measured under load), one thread too few on an idle machine costs the parallel speed-up
MIN_WINDOW_S = 0.05  # below this the /proc/stat sample says little; then sample this long (apply without prepare)
PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class Sample:
    """CPU counters at one moment: busy seconds of each allowed core, this process's CPU seconds, the wall clock."""

    busy_s: float
    own_s: float
    wall_s: float


@dataclass(frozen=True)
class Choice:
    """The thread count chosen and why: ``"--threads"``, ``"OMP_NUM_THREADS"``, ``"free cores"`` (measured:
    ``free_cores`` of ``cores``) or ``"unchanged"`` (torch's count left as it was: no ``/proc/stat``, or torch was
    already loaded when ``prepare()`` ran, or the automatic choice was already made in this process)."""

    threads: int
    reason: str
    cores: int
    free_cores: float | None = None


_start: Sample | None = None
_explicit: int | None = None


def allowed_cores() -> list[int]:
    """The CPUs this process may run on (its affinity mask; all of them where the platform has no mask)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def read_sample(cores: list[int], stat: Path = PROC_STAT) -> Sample | None:
    """Busy seconds of ``cores`` (user + nice + system + irq + softirq + steal from ``/proc/stat``), this process's
    CPU seconds and the monotonic clock; ``None`` where ``/proc/stat`` is not readable (not Linux)."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{index}" for index in cores}
    ticks = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
            ticks += user + nice + system + irq + softirq + steal
    times = os.times()
    return Sample(ticks / os.sysconf("SC_CLK_TCK"), times.user + times.system, time.monotonic())


def free_cores(start: Sample, end: Sample, cores: int) -> float:
    """Cores left free by other processes between two samples:
    ``cores − ((busy_end − busy_start) − (own_end − own_start)) / (wall_end − wall_start)``, within [0, cores]."""
    wall = max(end.wall_s - start.wall_s, 1e-9)
    others = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
    return min(float(cores), max(0.0, cores - others / wall))


def choose(default: int, cores: int, free: float) -> int:
    """Threads for ``free`` of ``cores`` free cores when torch would use ``default``:
    ``clamp(⌊default × free / cores + 0.5⌋, 1, default)``."""
    return max(1, min(default, math.floor(default * free / cores + MARGIN)))


def prepare() -> None:
    """At process start, before torch is imported: ask OpenMP's idle workers to spin briefly, then sleep
    (``GOMP_SPINCOUNT=20000``, unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set) and take the first CPU
    sample. Does nothing once torch is loaded, as the OpenMP runtime has then read its settings and the thread
    pool may be in use."""
    global _start
    if "torch" in sys.modules:
        return
    if WAIT_ENV not in os.environ and SPIN_ENV not in os.environ:
        os.environ[SPIN_ENV] = SPIN_COUNT
    _start = read_sample(allowed_cores())


def explicit_threads(threads: int | None = None) -> tuple[int, str] | None:
    """The count the user asked for, with where it came from: ``threads`` (``--threads``), else a valid
    ``OMP_NUM_THREADS``; ``None`` when neither says. ``ValueError`` for a count below 1."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return threads, "--threads"
    text = os.environ.get(THREADS_ENV, "").strip().split(",")[0]  # OpenMP allows a list per nesting level
    if text.isdigit() and int(text) >= 1:
        return int(text), THREADS_ENV
    return None


def apply(threads: int | None = None) -> Choice:
    """Set torch's thread count: the explicit count (``threads``, else ``OMP_NUM_THREADS``), else the free-core
    rule over the interval since ``prepare()``, once per process. Without ``prepare()`` before torch's import the
    automatic choice leaves torch's count as it is (a process that was already running torch keeps its settings)."""
    global _explicit, _start
    import torch

    cores = allowed_cores()
    asked = explicit_threads(threads)
    if asked is not None:
        _explicit = asked[0]
        torch.set_num_threads(asked[0])
        return Choice(asked[0], asked[1], len(cores))
    _explicit = None
    default = torch.get_num_threads()
    start, _start = _start, None  # chosen once per process
    end = read_sample(cores)
    if start is None or end is None:
        return Choice(default, "unchanged", len(cores))
    if end.wall_s - start.wall_s < MIN_WINDOW_S:
        time.sleep(MIN_WINDOW_S)
        end = read_sample(cores) or end
    free = free_cores(start, end, len(cores))
    chosen = choose(default, len(cores), free)
    torch.set_num_threads(chosen)
    return Choice(chosen, "free cores", len(cores), free)


def task_threads() -> int:
    """Threads for a task on a worker that reserves one CPU per task (Ray): the explicit count if ``apply`` was
    given one, else 1."""
    return _explicit if _explicit is not None else 1


def task_env() -> dict[str, str]:
    """Environment for worker processes so that their OpenMP waits as this process's does: this process's
    ``OMP_WAIT_POLICY`` and ``GOMP_SPINCOUNT``, else the policy's ``GOMP_SPINCOUNT=20000``."""
    env = {key: os.environ[key] for key in (WAIT_ENV, SPIN_ENV) if key in os.environ}
    return env or {SPIN_ENV: SPIN_COUNT}
