"""The allocator policy (``redge_solve.allocator``): with it, a freed block stays in the process and the next block
of that size touches no new page, also above 32 MiB (glibc's largest mmap threshold, where raising the threshold
alone changes nothing); without it glibc unmaps the block and the next one is fresh pages.

Each probe runs in a new process (glibc's thresholds move as a process frees memory, so only a fresh one shows the
difference) and counts the page faults of writing a block three times, freeing it in between."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from redge_solve.allocator import USER_SETTINGS, _glibc, keep_freed_memory

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not _glibc(), reason="the policy is glibc's mallopt; elsewhere it does nothing")

PROBE = """
import ctypes, json, resource, sys
{setup}
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
size = {size}


def faults():
    block = libc.malloc(size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    libc.memset(block, 1, size)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    libc.free(block)
    return after - before


print(json.dumps([faults() for _ in range(3)]))
"""

LARGE = 64 * 2**20  # above glibc's largest mmap threshold (32 MiB)
SMALL = 4 * 2**20
POLICY = "from redge_solve.allocator import keep_freed_memory\nassert keep_freed_memory()"


def page_faults(setup: str, size: int = LARGE, **env: str) -> list[int]:
    """Page faults of writing a fresh block of ``size`` bytes, three times, in a new process that first runs
    ``setup``."""
    environment = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS} | env
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, size=size)], capture_output=True,
                          text=True, check=True, cwd=ROOT, env=environment)
    return json.loads(done.stdout.strip().splitlines()[-1])


def pages(size: int) -> int:
    return size // 4096


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_without_the_policy_the_second_block_is_fresh_pages(size):
    assert page_faults("", size)[1] > pages(size) // 2  # the probe can see the difference at all


def test_raising_the_mmap_threshold_to_its_largest_does_not_keep_a_64_mib_block():
    """Why the policy turns mmap off instead: glibc maps a block above 32 MiB whatever its threshold."""
    setup = "import ctypes\nassert ctypes.CDLL('libc.so.6').mallopt(-3, 32 * 2**20) == 1"
    assert page_faults(setup)[1] > pages(LARGE) // 2


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_with_the_policy_a_freed_block_is_reused_without_new_pages(size):
    first, second, third = page_faults(POLICY, size)
    assert first > pages(size) // 2 and second < pages(size) // 10 and third < pages(size) // 10


def test_the_command_line_applies_the_policy_at_start_up():
    assert page_faults("import redge_solve.cli")[1] < pages(LARGE) // 10


def test_a_user_setting_of_malloc_wins(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "")
    assert keep_freed_memory() is False
    assert page_faults("import redge_solve.cli", GLIBC_TUNABLES="")[1] > pages(LARGE) // 2
