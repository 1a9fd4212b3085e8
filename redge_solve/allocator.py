"""The C allocator's policy for a solving process: the memory a step frees stays in the process for the next step.

Every step allocates and frees the same tensors (the samples, their one-hot rows, the penalty's products, the
gradient, Adam's temporaries): tens of megabytes each when many puzzles run hundreds of restarts. glibc's
``malloc`` serves a block above its mmap threshold (128 KiB at start, raised on its own as large blocks are freed,
but never above 32 MiB) with a fresh ``mmap`` and unmaps it at ``free``, and returns the top of its heap to the
system once more than its trim threshold is free there. So a large batch keeps asking the kernel for new pages at
every step, each zero-filled at its first write (a page fault), and unmapping them again (with two threads, a TLB
shoot-down of the other core each time).

``keep_freed_memory()`` sets, with ``mallopt``:

    M_MMAP_MAX       = 0           no block is served by mmap: every block comes from the heap, whatever its size
    M_TRIM_THRESHOLD = 2**31 − 1   the heap's free top is kept, not returned to the system

Measured (``docs/threads.md``): one step of 64 forum-hardest puzzles × 256 restarts, two threads, 185–252 ms
without it against 99–119 ms with it; at 8192 rows or fewer no difference beyond the noise, and on whole files of
40 and 100 forum-hardest puzzles no gain beyond the machine's drift between repeats. An earlier policy that only
raised the mmap threshold to glibc's largest (32 MiB) missed exactly those blocks: above 32 MiB glibc maps every
block whatever the threshold.

The cost: the process's resident memory stays at its peak until it exits instead of shrinking between steps, and a
freed block in the middle of the heap is reused, not returned. Results do not change (where memory comes from is
not arithmetic). When an allocation cannot come from the heap glibc's arenas fall back to the main heap, which
grows with ``brk``.

The command line calls it once at start-up; a program that calls ``solve`` in a long-lived process of its own can
call it too. It does nothing (and returns False) where the C library is not glibc, and leaves glibc alone when
the user set any of its ``MALLOC_*_`` variables or ``GLIBC_TUNABLES``: what the user sets wins.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's <malloc.h>
MMAP_MAX = 0  # no block from mmap
TRIM_THRESHOLD = 2**31 - 1  # the largest int: never trim
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                 "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to serve every block from its heap and keep freed ones for reuse instead of returning them
    to the system (see the module's docstring); True when the settings were applied, False where there is no glibc
    or the user has set malloc's environment variables."""
    if not _glibc() or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    settings = ((M_MMAP_MAX, MMAP_MAX), (M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return all(libc.mallopt(option, value) == 1 for option, value in settings)


def _glibc() -> bool:
    """Whether this process runs on glibc (``confstr`` names it; musl, macOS and Windows do not)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False
