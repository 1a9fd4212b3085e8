"""How many puzzles fit in memory at once: the budget, and a per-puzzle estimate of the solving loop's peak.

The solver keeps, per restart, the logits and two Adam moments of every free variable, and per step S one-hot
samples plus the estimator's temporaries kept for the backward pass, all float32 ``(S, R·F, K)``:

    bytes(puzzle) ≈ 4 · R · F · K · (a · S + b · S · (1 + calls) + c)

with F free variables, K categories, R restarts, S samples and ``calls`` denoiser calls per sample
(``Estimator.denoiser_calls``: n_steps − 1 for the ReDGE family, 1 for n_steps = 1; 0 for the others): a = 24, b =
20, c = 8. Plain numbers in, so this module needs neither the solver nor the estimators. The constants are an
upper estimate of the peak resident memory of real runs (the calibration: benchmarks/README.md, "Memory per
puzzle"); measurements vary by up to ~40 %, and the default budget, half the available memory, leaves room for
that.

The available memory is the device's: free RAM on the CPU (``MemAvailable``), free GPU memory on CUDA
(``torch.cuda.mem_get_info``). ``budget`` is the one memory policy: the solver's sub-batches
(``puzzles_per_batch``) and ``batch``'s chunks (``batch.default_chunk_size``) are both sized from it. Speed, not
memory, sets one more bound: on the CPU, puzzles whose restarts have grown go on in parts of about a core's cache
(``parts_in_cache``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import torch

BUDGET_ENV = "REDGE_MEMORY_BUDGET"
"""Bytes the solver may use for one batch; overrides the default share of the available memory."""
BUDGET_SHARE = 2  # by default a batch may use 1 / BUDGET_SHARE of the available memory
PER_SAMPLE, PER_CALL, PER_RESTART = 24, 20, 8  # float32 tensors of (S, R·F, K), (S, R·F, K) per call, (R·F, K)


def available_memory() -> int:
    """Bytes of memory available to this process (``MemAvailable``), with a conservative fallback."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 * 1024**3


def device_memory(device: "torch.device | str | None" = None) -> int:
    """Bytes free on ``device``: ``available_memory()`` for the CPU (or None), the free memory CUDA reports
    (``torch.cuda.mem_get_info``) for a GPU."""
    if device is None or str(device).startswith("cpu"):
        return available_memory()
    import torch

    return int(torch.cuda.mem_get_info(torch.device(device))[0])


def budget(device: "torch.device | str | None" = None) -> int:
    """Bytes one solver batch may use on ``device`` (default: the CPU): ``$REDGE_MEMORY_BUDGET`` if set (a
    positive integer), else a share of the device's free memory (``device_memory``)."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if text:
        try:
            value = int(float(text))
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"{BUDGET_ENV} must be a positive number of bytes, got {text!r}")
        return value
    return device_memory(device) // BUDGET_SHARE


def bytes_per_puzzle(free_cells: int, categories: int, *, restarts: int, samples: int, calls: int = 0) -> int:
    """The estimated peak bytes of one puzzle of ``free_cells`` variables over ``categories`` values, solved with
    ``restarts`` restarts, ``samples`` samples per step and an estimator making ``calls`` denoiser calls per sample
    (``Estimator.denoiser_calls``; see the module docstring)."""
    rows = restarts * free_cells * categories * 4
    return rows * (samples * (PER_SAMPLE + PER_CALL * calls) + PER_RESTART)


def puzzles_per_batch(variables: Sequence[int], categories: int, *, restarts: int, samples: int, calls: int = 0,
                      memory: int | None = None, device: "torch.device | str | None" = None) -> int:
    """How many puzzles fit in ``memory`` bytes (default ``budget(device)``) at once, given each puzzle's number of
    free variables (``variables``; the largest sets the size of all); at least 1."""
    memory = budget(device) if memory is None else memory
    if not len(variables):
        return 1
    per_puzzle = bytes_per_puzzle(max(variables), categories, restarts=restarts, samples=samples, calls=calls)
    return max(1, memory // max(1, per_puzzle))


CACHE_LOGITS = 4 * 256 * 60 * 9
"""The most logits (restarts × free variables × categories) a part runs with at once on the CPU once its restarts
have grown: four 9×9 puzzles of 60 free cells at 256 restarts, tensors of about 2 MiB, a core's L2 cache on the
machines measured. A step's cost per row grows with the rows, as its passes outgrow the cache: at 256 restarts of
forum-hardest puzzles, two threads, 5.9 µs a row-step for 4 puzzles against 7.7 µs for 48 (``step_rows.py``;
benchmarks/README.md, "Cache-sized parts")."""


def parts_in_cache(variables: Sequence[int], categories: int, *, restarts: int) -> int:
    """How many puzzles of ``variables`` free variables each (the largest sets the size of all) keep a part's logits
    within ``CACHE_LOGITS`` at ``restarts`` restarts; at least 1."""
    if not len(variables):
        return 1
    return max(1, CACHE_LOGITS // max(1, restarts * max(variables) * categories))
