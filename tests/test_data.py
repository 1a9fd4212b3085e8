"""Dataset loading through ``datasets``: local CSV/parquet/JSONL, column mapping, slicing, chunking, clear errors."""

import json

import pytest

from redge_solve import data
from redge_solve.data import SourceError, iter_chunks, open_source

PUZZLE = "000078030710003020056201089000064001007009003090080605900005000000837910280900400"
SOLUTION = "429578136718693524356241789532764891867159243194382675971425368645837912283916457"


def ritvik_rows(n: int) -> list[dict]:
    """Rows with the Ritvik19/Sudoku-Dataset schema (puzzle, solution, missing, difficulty, set, solving_time)."""
    return [dict(puzzle=PUZZLE, solution=SOLUTION, missing=47, difficulty=i % 3, set="train", solving_time=0.1 * i)
            for i in range(n)]


def write_parquet(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def test_csv_keeps_leading_zeros_and_maps_columns(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("quiz,answer,level\n" + "".join(f"{PUZZLE},{SOLUTION},{i}\n" for i in range(4)))
    dataset = open_source(str(path), puzzle_column="quiz", solution_column="answer")
    rows = [r for chunk in iter_chunks(dataset, 3, puzzle_column="quiz", solution_column="answer") for r in chunk]
    assert [r.index for r in rows] == [0, 1, 2, 3]
    assert rows[0].puzzle == PUZZLE and rows[0].solution == SOLUTION  # a string, leading zeros intact
    assert rows[2].meta == {"level": "2"}


def test_parquet_with_hub_schema_and_slicing(tmp_path):
    path = tmp_path / "p.parquet"
    write_parquet(path, ritvik_rows(8))
    dataset = open_source(str(path), split="train[2:5]")
    assert len(dataset) == 3
    rows = [r for chunk in iter_chunks(dataset, 2) for r in chunk]
    assert [r.index for r in rows] == [0, 1, 2]  # indices within the sliced split
    assert [r.meta["difficulty"] for r in rows] == [2, 0, 1]  # rows 2..4 of the file
    assert set(rows[0].meta) == {"missing", "difficulty", "set", "solving_time"}


def test_jsonl_offset_limit_and_no_solution_column(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"puzzle": PUZZLE, "id": i}) + "\n" for i in range(6)))
    dataset = open_source(str(path))
    chunks = list(iter_chunks(dataset, 2, offset=1, limit=3))
    assert [[r.index for r in c] for c in chunks] == [[1, 2], [3]]
    assert all(r.solution is None for c in chunks for r in c)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file"),
        ("p.txt", "puzzle\n1\n", "unknown file type"),
        ("p.csv", "quiz\n1\n", "no column 'puzzle'.*map yours with `puzzle_column`"),  # the field; the CLI maps it
    ],
)
def test_bad_sources_raise_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SourceError, match=message) as info:
        open_source(str(path))
    assert "\n" not in str(info.value)


def test_bad_split_is_a_source_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(f"puzzle\n{PUZZLE}\n")
    with pytest.raises(SourceError):
        open_source(str(path), split="test")


def test_unreachable_hub_fails_fast_without_the_offline_variable(monkeypatch):
    """No HF_HUB_OFFLINE set and no network: the probe switches to offline mode, so it fails without trying the
    network (no connection attempted after the probe: checked on the socket calls, not on the clock)."""
    import socket

    import datasets
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # restored afterwards (the probe path sets it to 1)
    probes, connections = [], []
    monkeypatch.setattr(data, "hub_reachable", lambda timeout=3.0: probes.append(timeout) or False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", datasets.config.HF_HUB_OFFLINE)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", hub_constants.HF_HUB_OFFLINE)

    def refuse(self, address, *args):
        connections.append(address)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(SourceError, match="cannot reach the Hugging Face Hub") as info:
        open_source("hf:nobody-xyz/not-a-dataset-xyz")
    assert probes and connections == []
    assert datasets.config.HF_HUB_OFFLINE and hub_constants.HF_HUB_OFFLINE  # switched to offline mode
    assert "\n" not in str(info.value)
