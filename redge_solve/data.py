"""Loading puzzle datasets through Hugging Face ``datasets``: hub names and local CSV/TSV/parquet/JSON(L) alike.

``open_source("hf:Ritvik19/Sudoku-Dataset", split="train[:2000]")`` or ``open_source("puzzles.csv")``. Local files
go through the same ``datasets.load_dataset`` call (builders csv/parquet/json), so a test on a local parquet with
the hub schema exercises the hub path's code. Every CSV column is read as a string: an 81-digit puzzle inferred as
an integer overflows and would lose its leading zeros. Arrow tables are memory-mapped, and ``iter_chunks`` hands
out one chunk of rows at a time, so a slice of millions of rows never sits in memory as Python objects at once.
"""

from __future__ import annotations

import csv
import logging
import os
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

HUB_PREFIX = "hf:"
BUILDERS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


class SourceError(ValueError):
    """A dataset that cannot be opened or lacks the needed columns; the message is one line for the user."""


@dataclass(frozen=True)
class PuzzleRow:
    index: int  # row index within the opened split (after slicing), stable across chunkings and resumes
    puzzle: str
    solution: str | None
    meta: dict[str, Any] = field(default_factory=dict)


def open_source(source: str, split: str = "train", puzzle_column: str = "puzzle",
                solution_column: str | None = "solution"):
    """A ``datasets.Dataset`` for a hub name (``hf:owner/name``) or a local file, checked for its columns."""
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    _quiet_hub_logging()
    try:
        if source.startswith(HUB_PREFIX):
            name = source[len(HUB_PREFIX):]
            if not name.strip("/"):
                raise SourceError("hf: needs a dataset name, e.g. hf:Ritvik19/Sudoku-Dataset")
            offline_unless_reachable(datasets)
            dataset = datasets.load_dataset(name, split=split)
        else:
            path = Path(source)
            if not path.is_file():
                raise SourceError(f"no such file: {source}")
            builder = BUILDERS.get(path.suffix.lower())
            if builder is None:
                kinds = ", ".join(BUILDERS)
                raise SourceError(f"unknown file type {path.suffix or '(none)'!r}; use {kinds} or hf:NAME")
            kwargs: dict[str, Any] = {}
            if builder == "csv":
                delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
                columns = _csv_header(path, delimiter)
                kwargs = dict(sep=delimiter, features=datasets.Features({c: datasets.Value("string") for c in columns}),
                              index_col=False,  # a row with an extra field must not shift the columns (pandas)
                              encoding_errors="replace")  # a stray bad byte makes its row bad, not the file
            try:
                dataset = _load_local(datasets, builder, path, split, kwargs)
            except Exception as exc:
                if builder != "csv" or "Expected" not in str(exc.__cause__ or exc):
                    raise
                # a row with more fields than the header: pandas' Python parser keeps it, cut to the header's width
                # (its converters keep the puzzles as strings: leading zeros)
                width = len(columns)
                dataset = _load_local(datasets, builder, path, split,
                                      dict(kwargs, engine="python", on_bad_lines=lambda fields: fields[:width],
                                           converters={c: str for c in columns}))
    except SourceError:
        raise
    except (ConnectionError, OSError) as exc:
        if source.startswith(HUB_PREFIX):
            if offline():
                raise SourceError(f"cannot reach the Hugging Face Hub (offline or no network) and {source!r} is "
                                  "not in the local cache; download it once with network, or use a local file"
                                  ) from None
            raise SourceError(f"cannot reach the Hugging Face Hub for {source!r} (no network?): "
                              f"{_one_line(exc)}") from None
        raise SourceError(f"cannot read {source}: {_one_line(exc)}") from None
    except Exception as exc:  # datasets raises many types (DatasetNotFoundError, ValueError on a bad split, ...)
        raise SourceError(f"cannot load {source!r} split {split!r}: {_one_line(exc)}") from None
    missing = [c for c in (puzzle_column, solution_column) if c and c not in dataset.column_names]
    if puzzle_column in missing:
        raise SourceError(f"{source} has no column {puzzle_column!r} (columns: {', '.join(dataset.column_names)}); "
                          "map yours with `puzzle_column`")
    return dataset


def _load_local(datasets, builder: str, path: Path, split: str, kwargs: dict[str, Any]):
    """``load_dataset`` on a local file, without the warnings and error logs that the caller turns into one line."""
    library_logger = logging.getLogger("datasets")
    level = library_logger.level
    library_logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():  # pandas warns on stderr for each row with extra fields (dropped)
            warnings.filterwarnings("ignore", message="Length of header or names does not match")
            warnings.filterwarnings("ignore", message="Both a converter and dtype were specified")
            return datasets.load_dataset(builder, data_files=str(path), split=split, **kwargs)
    finally:
        library_logger.setLevel(level)


def iter_chunks(dataset, chunk_size: int, offset: int = 0, limit: int | None = None,
                puzzle_column: str = "puzzle", solution_column: str | None = "solution") -> Iterator[list[PuzzleRow]]:
    """Rows ``offset .. offset+limit`` of ``dataset`` in lists of at most ``chunk_size`` ``PuzzleRow``s."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be >= 1, got {chunk_size}")
    end = len(dataset) if limit is None else min(len(dataset), offset + limit)
    has_solution = bool(solution_column) and solution_column in dataset.column_names
    for start in range(offset, end, chunk_size):
        stop = min(start + chunk_size, end)
        batch = dataset[start:stop]
        rows = []
        for i in range(stop - start):
            meta = {k: v[i] for k, v in batch.items() if k not in (puzzle_column, solution_column)}
            puzzle = batch[puzzle_column][i]
            solution = batch[solution_column][i] if has_solution else None
            rows.append(PuzzleRow(start + i, "" if puzzle is None else str(puzzle),
                                  None if solution in (None, "") else str(solution), meta))
        yield rows


def _csv_header(path: Path, delimiter: str) -> list[str]:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        header = next(csv.reader([first.decode("utf-8")], delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not a UTF-8 text file (its header line is not)") from None
    if not header:
        raise SourceError(f"{path} is empty")
    if len(set(header)) != len(header):
        raise SourceError(f"{path} has duplicated column names in its header: {', '.join(header)}")
    return header


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "…") if len(text) > 300 else text or type(exc).__name__


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub endpoint (``HF_ENDPOINT`` or huggingface.co) opens within ``timeout``."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def offline_unless_reachable(datasets_module) -> None:
    """Before a hub load: with no network, switch the imported ``datasets`` offline at once (a cached copy still
    loads) instead of ~20 s of noisy retries; ``HF_HUB_OFFLINE`` set after ``datasets`` was imported (by a caller of
    the library) reaches it the same way."""
    if offline() or not hub_reachable():
        _force_offline(datasets_module)


def _force_offline(datasets_module) -> None:
    """Switch the already imported ``datasets``/``huggingface_hub`` into offline mode for this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    datasets_module.config.HF_HUB_OFFLINE = True
    if hasattr(datasets_module.config, "HF_DATASETS_OFFLINE"):
        datasets_module.config.HF_DATASETS_OFFLINE = True
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - huggingface_hub ships with datasets
        pass


def _quiet_hub_logging() -> None:
    """huggingface_hub logs every retry as a warning on stderr; the user gets one line from ``SourceError``."""
    try:
        from huggingface_hub.utils import logging as hub_logging

        hub_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
