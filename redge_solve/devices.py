"""The torch device a run uses, from the name a user gives: ``auto`` (CUDA when torch sees a GPU, else the CPU),
``cpu``, ``cuda`` or ``cuda:N``. Problems are built on it (``SudokuBatch.from_grids(..., device=)``,
``ConstraintBatch.from_specs(..., device=)``); the solver, the estimators and the keyed noise follow the problem's
tensors. Nothing here prints: an unusable device is a ``DeviceUnavailable`` (one line)."""

from __future__ import annotations

import torch

DEVICE_NAMES = ("auto", "cpu", "cuda", "cuda:N")


class DeviceUnavailable(ValueError):
    """The device asked for is not one torch can use here (one line, naming the device, not an option)."""


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` for ``name`` (None = ``auto``). Raises ``DeviceUnavailable`` for CUDA when torch sees
    no GPU (a CPU build of torch, or no visible device) or for ``cuda:N`` past the last GPU, and for a name that
    is none of ``DEVICE_NAMES``."""
    if isinstance(name, torch.device):
        name = str(name)
    text = (name or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise DeviceUnavailable(f"unknown device {name!r}; choose from {', '.join(DEVICE_NAMES)}") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise DeviceUnavailable(f"unknown device {name!r}; choose from {', '.join(DEVICE_NAMES)}")
    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a build without CUDA")
        raise DeviceUnavailable(f"{text} is not available: torch sees no CUDA GPU here ({build}); use cpu or auto")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceUnavailable(f"{text} is not available: torch sees {torch.cuda.device_count()} CUDA GPU(s), "
                                f"numbered from 0")
    return device
