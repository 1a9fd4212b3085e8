"""The start-up thread policy (``redge_solve.threads``): what the user sets wins (``--threads``, ``OMP_NUM_THREADS``,
``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``); otherwise idle workers spin briefly, then sleep, and the count follows
the cores other processes leave free. No timing here: the free-core rule is tested on given CPU counters."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from redge_solve import threads
from redge_solve.cli import app
from redge_solve.threads import Sample, choose, explicit_threads, free_cores, read_sample, task_env, task_threads

ROOT = Path(__file__).resolve().parent.parent
OMP_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


@pytest.fixture
def clean_env(monkeypatch):
    """No OpenMP variable (each restored after the test, also when the code under test set it) and the policy's
    module state restored."""
    for key in OMP_VARIABLES:
        monkeypatch.setenv(key, "recorded")
        monkeypatch.delenv(key)
    monkeypatch.setattr(threads, "_start", None)
    monkeypatch.setattr(threads, "_explicit", None)
    return monkeypatch


@pytest.fixture
def set_calls(monkeypatch):
    """Every ``torch.set_num_threads`` call (still made, so the count is really set and restored)."""
    calls = []
    real = torch.set_num_threads

    def recording(count):
        calls.append(count)
        real(count)

    monkeypatch.setattr(torch, "set_num_threads", recording)
    before = torch.get_num_threads()
    yield calls
    real(before)


# ---- the free-core rule ------------------------------------------------------------------------------------------


def test_choose_keeps_the_default_when_idle_and_gives_a_busy_core_away():
    assert choose(default=2, cores=2, free=2.0) == 2
    assert choose(default=2, cores=2, free=1.6) == 2  # background noise keeps the solo count
    assert choose(default=2, cores=2, free=1.4) == 1
    assert choose(default=2, cores=2, free=1.0) == 1  # a busy loop, or a second run starting beside this one
    assert choose(default=2, cores=2, free=0.0) == 1
    assert choose(default=8, cores=16, free=8.0) == 4  # torch's default (physical cores) scaled by the free share


@given(default=st.integers(1, 64), cores=st.integers(1, 128), share=st.floats(0, 1), more=st.floats(0, 1))
def test_choose_stays_between_one_and_the_default_and_never_drops_with_more_free(default, cores, share, more):
    free = share * cores
    chosen = choose(default, cores, free)
    assert 1 <= chosen <= default
    assert choose(default, cores, min(cores, free + more * cores)) >= chosen
    assert choose(default, cores, float(cores)) == default


def test_free_cores_subtracts_this_process_own_cpu_time():
    start = Sample(busy_s=100.0, own_s=1.0, wall_s=10.0)
    # 2 s of wall time: the cores were busy 3 CPU-seconds, 2 of them this process's (the import of torch)
    end = Sample(busy_s=103.0, own_s=3.0, wall_s=12.0)
    assert free_cores(start, end, cores=2) == pytest.approx(1.5)
    assert free_cores(start, Sample(109.0, 1.0, 12.0), cores=2) == 0.0  # more load than cores: none free
    assert free_cores(start, Sample(100.0, 3.0, 12.0), cores=2) == 2.0  # counters' rounding: within [0, cores]


def test_read_sample_counts_only_the_allowed_cores_busy_ticks(tmp_path):
    stat = tmp_path / "stat"
    #        user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  900 0 0 900 0 0 0 0 0 0\n"
                    "cpu0 100 10 20 500 40 1 2 3 0 0\n"
                    "cpu1 700 0 0 100 0 0 0 0 0 0\n"
                    "cpu2 50 0 50 400 7 0 0 0 0 0\n"
                    "intr 12345\n")
    sample = read_sample([0, 2], stat)
    ticks = (100 + 10 + 20 + 1 + 2 + 3) + (50 + 50)  # idle and iowait are not busy; cpu1 is not ours
    assert sample.busy_s == pytest.approx(ticks / os.sysconf("SC_CLK_TCK"))
    assert read_sample([0], tmp_path / "missing") is None


# ---- explicit settings win ---------------------------------------------------------------------------------------


def test_threads_option_wins_over_omp_num_threads(clean_env):
    clean_env.setenv("OMP_NUM_THREADS", "3")
    assert explicit_threads(2) == (2, "--threads")
    assert explicit_threads() == (3, "OMP_NUM_THREADS")
    clean_env.setenv("OMP_NUM_THREADS", "4,2")  # OpenMP's list form: the outer level counts
    assert explicit_threads() == (4, "OMP_NUM_THREADS")
    for unusable in ("", "0", "many"):
        clean_env.setenv("OMP_NUM_THREADS", unusable)
        assert explicit_threads() is None
    with pytest.raises(ValueError, match="threads must be >= 1"):
        explicit_threads(0)


def test_apply_sets_the_explicit_count_and_ray_tasks_take_it(clean_env, set_calls):
    choice = threads.apply(3)
    assert (choice.threads, choice.reason) == (3, "--threads")
    assert torch.get_num_threads() == 3 and task_threads() == 3
    clean_env.setenv("OMP_NUM_THREADS", "2")
    assert threads.apply().reason == "OMP_NUM_THREADS" and torch.get_num_threads() == 2 and task_threads() == 2


def test_the_automatic_choice_is_made_once_and_ray_tasks_then_take_one_thread(clean_env, set_calls):
    clean_env.setattr(threads, "_start", Sample(0.0, 0.0, 0.0))
    clean_env.setattr(threads, "read_sample", lambda cores: Sample(busy_s=1.0 * 10, own_s=0.0, wall_s=10.0))
    clean_env.setattr(threads, "allowed_cores", lambda: [0, 1])
    torch.set_num_threads(2)
    choice = threads.apply()  # others kept one core of two busy for 10 s
    assert (choice.threads, choice.reason, choice.free_cores) == (1, "free cores", 1.0)
    assert torch.get_num_threads() == 1 and task_threads() == 1
    again = threads.apply()  # a second invocation in this process (tests, a notebook) leaves the count alone
    assert (again.threads, again.reason) == (1, "unchanged")


def test_cli_threads_option_is_applied_for_the_command_then_restored(clean_env, set_calls):
    before = torch.get_num_threads()
    result = CliRunner().invoke(app, ["--threads", "3", "estimators"])
    assert result.exit_code == 0, result.output
    assert set_calls == [3, before]  # 3 for the command, then back for whoever runs the app in-process
    clean_env.setenv("OMP_NUM_THREADS", "1")
    set_calls.clear()
    assert CliRunner().invoke(app, ["estimators"]).exit_code == 0
    assert set_calls == [1, before]


@pytest.mark.parametrize("value", ["0", "-2"])
def test_cli_threads_below_one_is_a_one_line_error(value):
    result = CliRunner().invoke(app, ["--threads", value, "estimators"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --threads must be >= 1, got {value}"


# ---- the wait policy, set before torch loads -------------------------------------------------------------------


def test_prepare_sets_a_short_spin_unless_the_user_chose_how_openmp_waits(clean_env):
    clean_env.delitem(sys.modules, "torch")  # as at the start of a process (restored after the test)
    threads.prepare()
    assert os.environ["GOMP_SPINCOUNT"] == "20000" and "OMP_WAIT_POLICY" not in os.environ
    clean_env.delenv("GOMP_SPINCOUNT")
    clean_env.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.prepare()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and "GOMP_SPINCOUNT" not in os.environ
    clean_env.delenv("OMP_WAIT_POLICY")
    clean_env.setenv("GOMP_SPINCOUNT", "300000")  # GNU OpenMP's own default spinning, asked for by the user
    threads.prepare()
    assert "OMP_WAIT_POLICY" not in os.environ
    assert task_env() == {"GOMP_SPINCOUNT": "300000"}  # Ray workers wait as the driver does


def test_prepare_does_nothing_once_torch_is_loaded(clean_env):
    clean_env.setattr(threads, "_start", None)
    threads.prepare()  # torch is loaded in this process
    assert "GOMP_SPINCOUNT" not in os.environ and threads._start is None
    assert task_env() == {"GOMP_SPINCOUNT": "20000"}


PROBE = """
import os, json, sys
import redge_solve.cli  # the entry point's import: prepare() must run before this imports torch
from redge_solve import threads
prepared = threads._start is not None
choice = threads.apply()
import torch
print(json.dumps(dict(prepared=prepared, wait=os.environ.get("OMP_WAIT_POLICY"), spin=os.environ.get("GOMP_SPINCOUNT"),
                      reason=choice.reason,
                      threads=torch.get_num_threads())))
"""


def probe(**env):
    clean = {k: v for k, v in os.environ.items() if k not in OMP_VARIABLES}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fresh_cli_process_prepares_before_torch_and_chooses_from_free_cores():
    seen = probe()
    assert seen["prepared"] and (seen["wait"], seen["spin"]) == (None, "20000") and seen["reason"] == "free cores"
    assert 1 <= seen["threads"] <= len(os.sched_getaffinity(0))


def test_a_fresh_cli_process_keeps_the_users_openmp_settings():
    seen = probe(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="ACTIVE")
    assert seen == dict(prepared=True, wait="ACTIVE", spin=None, reason="OMP_NUM_THREADS", threads=1)


# ---- what a rerun reproduces (docs/threads.md, "Which settings change results") -----------------------------------
EASY_UNDEDUCED = ["--deduce", "none", "--restarts", "1", "--samples", "1", "--weight-step", "0", "--seed", "1",
                  "--steps", "2000"]
"""puzzles/easy.txt by gradient alone, so the float rounding of the kernels shapes the path (measured on an AVX-512
CPU: solved at step 88 with torch's scalar kernels, 99 with its AVX2 ones, 103 with its AVX-512 ones)."""


def test_same_seed_threads_and_cpu_kernels_rerun_byte_identical_and_the_unique_solution_does_not_depend_on_them(
        tmp_path):
    from conftest import run_cli, run_subprocess, without_timing

    def records(out: Path) -> list[dict]:
        return [json.loads(line) for line in out.read_text().splitlines()]

    def scalar(name: str) -> list[dict]:  # a fresh process on torch's scalar kernels, one thread
        out = tmp_path / f"{name}.jsonl"
        done = run_subprocess("--threads", "1", "sudoku", ROOT / "puzzles/easy.txt", *EASY_UNDEDUCED, "--out", out,
                              "-q", ATEN_CPU_CAPABILITY="default")
        assert done.returncode == 0, done.stderr.decode()
        return records(out)

    first, second = scalar("first"), scalar("second")
    assert json.dumps(without_timing(first)) == json.dumps(without_timing(second))  # the promise: the same bytes
    native = tmp_path / "native.jsonl"  # this process, this CPU's own kernels: the step may differ, the grid not
    assert run_cli("sudoku", ROOT / "puzzles/easy.txt", *EASY_UNDEDUCED, "--out", native, "-q").exit_code == 0
    assert first[0]["found"] and first[0]["verified"] and records(native)[0]["found"]
    assert records(native)[0]["grid"] == first[0]["grid"]
