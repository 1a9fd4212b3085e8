"""``--executor/--address/--num-workers`` of ``batch`` and ``compare``: their help and the executor they ask for."""

from __future__ import annotations

from ..executors import Executor, RayMissing, make_executor, one_line
from .common import fail

EXECUTOR_HELP = "Where tasks run: local (this process) or ray (Ray tasks; see --address, --num-workers)."
ADDRESS_HELP = "Ray cluster to join (HOST:PORT or auto) (default: start a local Ray with this machine's cores)."
WORKERS_HELP = "Ray tasks at once (default: the cluster's CPUs); a local Ray gets this many CPUs."


def open_executor(name: str, address: str | None, num_workers: int | None) -> Executor:
    """The executor asked for; a bad choice, missing Ray, or a Ray that cannot start or be joined is a one-line
    error with exit code 2."""
    try:
        return make_executor(name, address, num_workers)
    except (ValueError, RayMissing) as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - ray.init raises many types (ConnectionError, RuntimeError, ...)
        where = f"join Ray at {address}" if address else "start a local Ray"
        fail(f"cannot {where}: {one_line(exc)}")
