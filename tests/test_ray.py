"""Executors: ``--executor ray`` writes what the local executor writes (same rows, same order, same records but the
timings), runs the driver's code on its workers, survives a SIGKILL and resumes with either executor, retries a
failing task and then writes its rows as error lines. One local Ray with 2 CPUs serves the whole module; the Ray
tests are skipped where the ``ray`` extra is not installed (``.ci/run`` installs it)."""

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, read_jsonl, run_cli, start_signalled, without_timing

from redge_solve import threads
from redge_solve.compare import EstimatorSpec, compare, sudoku_input
from redge_solve.executors import (
    FAIL_LOG_ENV,
    FAIL_ROWS_ENV,
    MAX_RETRIES,
    LocalExecutor,
    RayExecutor,
    TaskFailed,
    one_line,
)
from redge_solve.problems.sudoku import grid_from_string
from redge_solve.runs.batch import read_done
from redge_solve.threads import task_env

HAVE_RAY = importlib.util.find_spec("ray") is not None
pytestmark = pytest.mark.slow  # one local Ray for the module: seconds to start, real worker processes
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason='the ray extra is not installed (pip install -e ".[ray]")')
SAMPLE = ROOT / "puzzles" / "sample.csv"
FAST = ["--steps", "60", "--samples", "2", "--restarts", "1"]


@pytest.fixture(scope="module")
def ray_cluster():
    from redge_solve.executors import connect_ray

    ray = connect_ray(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


# ---- without Ray ---------------------------------------------------------------------------------------------------


def test_ray_executor_without_ray_says_how_to_install_and_exits_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    result = run_cli("batch", SAMPLE, "--limit", "2", "--out", tmp_path / "r.jsonl", "--executor", "ray")
    assert result.exit_code == 2
    assert 'pip install -e ".[ray]"' in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.jsonl").exists()  # nothing solved, nothing written
    result = run_cli("compare", SAMPLE, "--limit", "2", "-e", "st", "--seeds", "1", "--executor", "ray")
    assert result.exit_code == 2 and 'pip install -e ".[ray]"' in result.output


@pytest.mark.parametrize("args, message", [
    (["--executor", "spark"], "--executor must be local or ray"),
    (["--address", "127.0.0.1:6379"], "need --executor ray"),
    (["--executor", "ray", "--num-workers", "0"], "--num-workers must be >= 1"),
])
def test_bad_executor_options_are_one_line_exit_2(tmp_path, args, message):
    result = run_cli("batch", SAMPLE, "--limit", "2", "--out", tmp_path / "r.jsonl", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_local_executor_turns_a_failing_task_into_its_reason_and_goes_on():
    def task(x):
        if x == 1:
            raise ValueError("bad\nitem")
        return x * 10

    assert list(LocalExecutor().imap(task, [0, 1, 2])) == [(0, 0), (1, TaskFailed("ValueError: bad item")), (2, 20)]


def test_injected_failure_becomes_error_lines_with_the_local_executor(tmp_path, monkeypatch):
    monkeypatch.setenv(FAIL_ROWS_ENV, "3")
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", SAMPLE, "--limit", "4", "--chunk-size", "2", "--out", out, *FAST)
    assert result.exit_code == 1, result.output
    records = read_jsonl(out)
    assert [r["index"] for r in records] == list(range(4))
    assert [r["index"] for r in records if "error" in r] == [2, 3]
    assert records[2]["error"] == f"task failed: InjectedFailure: injected failure for row 3 ({FAIL_ROWS_ENV})"


# ---- with a local Ray of 2 CPUs --------------------------------------------------------------------------------------


@needs_ray
def test_workers_run_the_drivers_code_on_one_thread_or_the_explicit_count(ray_cluster, monkeypatch):
    def seen(_):
        import os

        import redge_solve.runs.batch

        return (Path(redge_solve.runs.batch.__file__).read_text(), torch.get_num_threads(),
                {key: os.environ.get(key) for key in task_env()})

    monkeypatch.setattr(threads, "_explicit", None)  # as after `apply()` chose by itself
    (_, (source, count, env)), = RayExecutor(num_workers=2).imap(seen, [0])
    import redge_solve.runs.batch

    assert source == Path(redge_solve.runs.batch.__file__).read_text()
    assert count == 1  # a task reserves one CPU
    assert env == task_env()  # the workers' OpenMP waits as the driver's
    monkeypatch.setattr(threads, "_explicit", 3)  # as after `--threads 3` or OMP_NUM_THREADS=3
    (_, (_, count, _)), = RayExecutor(num_workers=2).imap(seen, [0])
    assert count == 3


@needs_ray
def test_ray_yields_in_submission_order_whatever_order_tasks_finish(ray_cluster, tmp_path):
    # task 0 blocks on opening a FIFO for reading until task 2 opens it for writing; on 2 CPUs task 2 starts only
    # once task 1 has finished, so tasks 1 and 2 finish before task 0, whatever the machine's speed (an event,
    # not a sleep)
    fifo = tmp_path / "task2-started"
    os.mkfifo(fifo)

    def slow_first(x):
        if x == 0:
            with open(fifo) as handle:
                assert handle.read() == "go"
        if x == 2:
            with open(fifo, "w") as handle:
                handle.write("go")
        if x == 3:
            raise KeyError("three")
        return x

    outcomes = list(RayExecutor(num_workers=2, max_retries=0).imap(slow_first, range(6)))
    assert [item for item, _ in outcomes] == list(range(6))
    assert [o for _, o in outcomes] == [0, 1, 2, TaskFailed("KeyError: 'three'"), 4, 5]


@needs_ray
def test_batch_on_ray_writes_the_local_file(ray_cluster, tmp_path):
    files, codes = {}, {}
    for executor in ("local", "ray"):
        files[executor] = tmp_path / f"{executor}.jsonl"
        extra = ["--executor", "ray", "--num-workers", "2"] if executor == "ray" else []
        result = run_cli("--threads", "1", "batch", SAMPLE, "--limit", "6", "--chunk-size", "2",
                         "--out", files[executor], *FAST, *extra)  # one thread here as in each Ray task
        codes[executor] = result.exit_code
    local, remote = read_jsonl(files["local"]), read_jsonl(files["ray"])
    assert codes["local"] == (0 if all(r["found"] for r in local) else 1)  # exit 1: some row left unsolved
    assert codes["ray"] == codes["local"]
    assert [r["index"] for r in remote] == list(range(6))
    assert all("error" not in r and r["steps_run"] > 0 for r in local)  # a real run, not a file of errors
    assert without_timing(remote) == without_timing(local)


@needs_ray
def test_compare_on_ray_gives_the_local_comparison(ray_cluster):
    rows = SAMPLE.read_text().splitlines()[1:5]
    clues = torch.stack([grid_from_string(line.split(",")[0]) for line in rows])
    specs = [EstimatorSpec("st"), EstimatorSpec("redge", (("n_steps", 2),))]
    data = sudoku_input(clues, [5, 6, 7, 8])
    # the paper protocol: no pre-step and no early stop, so every run takes its 40 steps whatever the defaults
    settings = dict(seeds=[0, 1], protocol="paper", overrides=dict(steps=40, samples=2, restarts=1),
                    puzzle_ids=data.ids)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray task runs
    try:
        local = compare(data.problem, data.make_records, specs, **settings)
    finally:
        torch.set_num_threads(before)
    events = []
    remote = compare(data.problem, data.make_records, specs, **settings, executor=RayExecutor(num_workers=2),
                     chunk_size=3,
                     on_run=lambda e: events.append((e.index, e.run is None)))
    assert without_timing(remote.to_json()) == without_timing(local.to_json())
    assert sorted(events) == [(i, before) for i in range(4) for before in (False, True)]
    assert len(remote.runs[0].curve) == 40 and remote.runs[0].curve[-1][1] == local.runs[0].curve[-1][1]


@needs_ray
def test_a_task_that_keeps_failing_is_retried_then_written_as_error_lines(ray_cluster, tmp_path, monkeypatch):
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    monkeypatch.setenv(FAIL_ROWS_ENV, "3")
    monkeypatch.setenv(FAIL_LOG_ENV, str(attempts))
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", SAMPLE, "--limit", "4", "--chunk-size", "2", "--out", out, *FAST,
                     "--executor", "ray", "--num-workers", "2")
    assert result.exit_code == 1, result.output
    records = read_jsonl(out)
    assert [r["index"] for r in records] == list(range(4))
    assert [r["index"] for r in records if "error" in r] == [2, 3]
    assert records[3]["error"] == f"task failed: InjectedFailure: injected failure for row 3 ({FAIL_ROWS_ENV})"
    assert len(list(attempts.iterdir())) == 1 + MAX_RETRIES  # Ray ran it again, then gave up on it


@needs_ray
def test_a_killed_ray_run_resumes_with_either_executor_to_one_line_per_row(ray_cluster, tmp_path):
    total = 24
    source = tmp_path / "blank.csv"  # empty 4×4 grids with a tiny step size: never solved, so every row runs
    source.write_text("puzzle\n" + "".join("0" * 16 + "\n" for _ in range(total)))
    out = tmp_path / "r.jsonl"
    args = ["batch", str(source), "--chunk-size", "1", "--steps", "6", "--samples", "1", "--restarts", "1",
            "--lr", "1e-4", "--out", str(out)]
    on_ray = ["--executor", "ray", "--num-workers", "2"]

    # a real process on the module's Ray (joined with --address), killed right after its third row is written
    process = start_signalled([*args, *on_ray, "--address", ray_cluster], "redge_solve.runs.batch:append_records", 3,
                              signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    killed = read_done(out, repair=False)
    assert len(killed) == 3
    assert sorted(killed) == list(range(len(killed)))  # written in row order: always a prefix
    with open(out, "a") as handle:  # what a kill in the middle of a write leaves behind
        handle.write('{"index": 99, "puzzle": "00')
    cut = out.read_bytes()

    finished = {}
    for executor in ("local", "ray"):
        out.write_bytes(cut)
        result = run_cli(*args, "--resume", *(on_ray if executor == "ray" else []))
        assert result.exit_code == 1, result.output  # completed; the blank grids stay unsolved
        finished[executor] = read_jsonl(out)
        assert [r["index"] for r in finished[executor]] == list(range(total))
        assert all(finished[executor][i] == record for i, record in killed.items())  # kept as they were
    assert without_timing(finished["ray"]) == without_timing(finished["local"])


def test_one_line_unwraps_and_flattens():
    assert one_line(RuntimeError("a\n  b")) == "RuntimeError: a b"
    assert json.dumps(one_line(ValueError(""))) == '"ValueError"'
