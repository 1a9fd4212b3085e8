"""Where the tasks of ``batch`` and ``compare`` run: in this process, or on a Ray cluster, behind one interface.

A task is ``fn(item)`` for one item of work (a chunk of rows; an (estimator, parameters, seed, chunk) run part).
``Executor.imap(fn, items)`` runs the tasks and yields ``(item, outcome)`` **in the order of ``items``**, where
``outcome`` is what ``fn`` returned or a ``TaskFailed`` with the reason; a failed task never stops the others.

- ``LocalExecutor``: runs each task here, one after the other, when the consumer asks for it (the plain path).
- ``RayExecutor``: submits up to ``2 × workers`` tasks ahead to Ray, buffers results that finish out of order and
  yields each contiguous run of finished tasks as soon as it is complete, so a consumer that writes as it goes
  loses little on an interrupt. A task that raises, or whose worker dies, is retried by Ray (``max_retries``,
  ``retry_exceptions``); if it keeps failing its outcome is a ``TaskFailed``.

Ray workers must run the driver's ``redge_solve``, not whatever an installed copy or their working directory
holds: ``ray_runtime_env()`` ships the package directory this process imported as a job-level ``py_modules``
entry (Ray zips it into the cluster's object store, about 0.15 MiB), which works for a local Ray and for a
cluster joined with ``--address``. The workers' Python must already have torch and the other dependencies.
The driver's environment variables named ``REDGE_SOLVE_*`` are set in each task's process while it runs.
Threads follow ``threads``' policy: a task reserves one CPU and runs torch on one thread, or on the count the
driver was given explicitly (``--threads``, ``OMP_NUM_THREADS``), and the workers' OpenMP waits as the driver's
(``OMP_WAIT_POLICY``/``GOMP_SPINCOUNT`` in the job's ``env_vars``).

Test hook (documented, used by ``tests/test_ray.py``): ``REDGE_SOLVE_FAIL_ROWS=3,5`` makes every task whose rows
include row 3 or 5 raise ``InjectedFailure`` on every attempt; with ``REDGE_SOLVE_FAIL_LOG=DIR`` each failing
attempt also leaves a file in DIR, so a test can count Ray's retries.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .threads import task_env, task_threads

T = TypeVar("T")
R = TypeVar("R")

ENV_PREFIX = "REDGE_SOLVE_"
FAIL_ROWS_ENV = "REDGE_SOLVE_FAIL_ROWS"
FAIL_LOG_ENV = "REDGE_SOLVE_FAIL_LOG"
INSTALL_HINT = 'Ray is not installed; install it with: pip install -e ".[ray]"'
MAX_RETRIES = 2


@dataclass(frozen=True)
class TaskFailed:
    """The outcome of a task that raised (after Ray's retries): its reason on one line."""

    reason: str


class RayMissing(RuntimeError):
    """``--executor ray`` without the ``ray`` extra installed."""


class InjectedFailure(RuntimeError):
    """Raised on purpose by the ``REDGE_SOLVE_FAIL_ROWS`` test hook."""


class Executor(Protocol):
    name: str
    workers: int
    in_process: bool  # tasks run in this process (so they may take callbacks such as ``on_step``)

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | TaskFailed]]: ...

    def close(self) -> None: ...


def task_size(total: int, workers: int, tasks_per_worker: int = 1) -> int:
    """Items per task when ``total`` items are spread over ``workers`` Ray workers: ``tasks_per_worker`` tasks each
    (more tasks balance the load and show progress sooner; fewer amortise the start of each), at least 1."""
    return max(1, -(-total // (tasks_per_worker * max(workers, 1))))


def inject_failure(rows: Iterable[int]) -> None:
    """The test hook: raise ``InjectedFailure`` if one of ``rows`` is listed in ``$REDGE_SOLVE_FAIL_ROWS``."""
    listed = os.environ.get(FAIL_ROWS_ENV, "")
    if not listed:
        return
    failing = {int(text) for text in listed.split(",") if text.strip()}
    hit = sorted(failing.intersection(rows))
    if not hit:
        return
    log_dir = os.environ.get(FAIL_LOG_ENV)
    if log_dir:
        fd, _ = tempfile.mkstemp(prefix=f"row-{hit[0]}-", dir=log_dir)
        os.close(fd)
    raise InjectedFailure(f"injected failure for row {hit[0]} ({FAIL_ROWS_ENV})")


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (a Ray task error is unwrapped to the exception the task raised)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and cause is not exc:
        exc = cause
    message = " ".join(str(exc).split())
    first = message.split(" Traceback ")[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class LocalExecutor:
    """Every task in this process, in order, when the consumer asks for the next one."""

    name = "local"
    workers = 1
    in_process = True

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | TaskFailed]]:
        for item in items:
            try:
                outcome: R | TaskFailed = fn(item)
            except Exception as exc:  # noqa: BLE001 - one failed task becomes error lines, the run goes on
                outcome = TaskFailed(one_line(exc))
            yield item, outcome

    def close(self) -> None:
        pass


def import_ray() -> Any:
    """The ``ray`` module, or ``RayMissing`` with the install command."""
    try:
        import ray
    except ImportError:
        raise RayMissing(INSTALL_HINT) from None
    return ray


def ray_runtime_env() -> dict[str, Any]:
    """The job-level runtime environment that makes Ray workers import this process's ``redge_solve`` and wait
    in OpenMP as this process does (``threads.task_env``)."""
    package = Path(__file__).resolve().parent
    return {"py_modules": [str(package)], "env_vars": task_env()}


def connect_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """``ray.init`` with ``ray_runtime_env()``: a new local Ray with ``num_cpus`` (default: all cores) when
    ``address`` is None, else join the cluster at ``address`` (``HOST:PORT`` or ``auto``). Returns ``ray``."""
    ray = import_ray()
    ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
             runtime_env=ray_runtime_env(), log_to_driver=False, logging_level=logging.ERROR)
    return ray


def _call(fn: Callable[[T], R], item: T, threads: int, env: dict[str, str]) -> R:
    """A Ray task: ``fn(item)`` with ``threads`` torch threads, the driver's ``REDGE_SOLVE_*`` variables and the
    command line's allocator policy (``allocator.keep_freed_memory``)."""
    import torch

    from .allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(threads)
    for key in [k for k in os.environ if k.startswith(ENV_PREFIX) and k not in env]:
        del os.environ[key]  # a worker serves many tasks: drop what an earlier driver state set
    os.environ.update(env)
    return fn(item)


class RayExecutor:
    """Tasks as Ray tasks (1 CPU each), at most ``2 × workers`` in flight, results yielded in submission order.

    Connects with ``connect_ray`` unless this process is already connected (then the caller's connection,
    which must have been made with ``runtime_env=ray_runtime_env()``, is used and left open). ``workers``:
    ``num_workers``, else the cluster's CPUs.

    Each task runs torch on ``threads.task_threads()`` threads: one per task (the CPU it reserves), or the
    count the driver was given explicitly. torch rounds some reductions differently with one thread than with
    several, so a local run with the same count (``--threads 1`` by default) writes the same output.
    """

    name = "ray"
    in_process = False

    def __init__(self, address: str | None = None, num_workers: int | None = None, max_retries: int = MAX_RETRIES):
        ray = import_ray()
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            connect_ray(address, num_workers)
        self.workers = num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(_call).options(num_cpus=1, max_retries=max_retries, retry_exceptions=True)
        self.threads = task_threads()

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R | TaskFailed]]:
        ray = self._ray
        fn_ref = ray.put(fn)
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
        source = iter(items)
        pending: dict[Any, int] = {}  # object ref -> position
        submitted: dict[int, T] = {}
        finished: dict[int, R | TaskFailed] = {}
        next_position = next_submit = 0
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) + len(finished) < 2 * self.workers:
                    item = next(source, _END)
                    if item is _END:
                        exhausted = True
                        break
                    submitted[next_submit] = item
                    pending[self._remote.remote(fn_ref, item, self.threads, env)] = next_submit
                    next_submit += 1
                if not pending and not finished:
                    return
                if pending:
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    for ref in ready:
                        position = pending.pop(ref)
                        try:
                            finished[position] = ray.get(ref)
                        except Exception as exc:  # noqa: BLE001 - retries are spent: the task's rows fail
                            finished[position] = TaskFailed(one_line(exc))
                while next_position in finished:
                    yield submitted.pop(next_position), finished.pop(next_position)
                    next_position += 1
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


_END: Any = object()


def make_executor(name: str, address: str | None = None, num_workers: int | None = None) -> Executor:
    """``"local"`` or ``"ray"``; ``ValueError`` on another name, ``RayMissing`` when Ray is not installed."""
    if name == "local":
        if address is not None or num_workers is not None:
            raise ValueError("`address` and `num_workers` need `executor` ray")
        return LocalExecutor()
    if name == "ray":
        if num_workers is not None and num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        return RayExecutor(address, num_workers)
    raise ValueError(f"executor must be local or ray, got {name!r}")
