"""Every option that several commands share, declared once as a Typer ``Annotated`` alias, and the one place that
turns a command's solver options into a ``SolverConfig``.

A command declares ``steps: opt.Steps = COLOR_DEFAULTS.steps``: the alias carries the flag, its checks (``min=``,
or a callback raising ``typer.BadParameter``) and help; the default, shown by ``--help``, is the command's own.
``solver_config(ctx, defaults)`` then reads the solver options from the context, and keeps only the ones given
explicitly (``ctx.get_parameter_source``) on top of the protocol, so ``--protocol paper --steps 50`` runs 50 steps
while ``--protocol paper`` alone runs the paper's 1000.
"""

from __future__ import annotations

import enum
import re
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer

from ..config import Protocol, build_config
from ..runs.outputs import OutputRefused, check_output, directory_problem
from ..settings import (
    BIG_GRID_DEFAULTS,
    DEDUCTION_LEVELS,
    DEFAULTS,
    RUN_FIELDS,
    SolverConfig,
    sudoku_defaults,
)
from .common import fail, parse_assignments
from .executor_opts import ADDRESS_HELP, EXECUTOR_HELP, WORKERS_HELP

# ---- callbacks: a bad value is a usage error (one line, exit 2) before the command starts --------------------------


def assignments(value: Optional[list[str]]) -> Optional[list[str]]:
    """``--param``/``--grid``: every item must look like ``name=value``."""
    for item in value or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise typer.BadParameter(f"must look like name=value, got {item!r}")
    return value


def seed_list(value: str) -> list[int]:
    """``--seeds``: a count N (seeds 0..N-1) or a list of distinct integers ``0,5,7``; the command gets the list."""
    try:
        if "," in value:
            seeds = [int(s) for s in value.split(",") if s.strip()]
        else:
            count = int(value)
            if count < 1:
                raise ValueError
            seeds = list(range(count))
    except ValueError:
        raise typer.BadParameter(f"must be a count >= 1 or a list like 0,5,7, got {value!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise typer.BadParameter(f"must list distinct integers, got {value!r}")
    return seeds


def output_directory(value: Any) -> Any:
    """``--json``/``--out``/``--png``: the directory of the path must exist and be writable (checked before any
    work; the rest of the output policy, inputs and existing files, is ``check_output_or_exit``'s)."""
    if value is not None and str(value) != "-":
        problem = directory_problem(Path(str(value)))
        if problem:
            raise typer.BadParameter(problem)
    return value


def positive_seconds(value: Optional[float]) -> Optional[float]:
    """``--max-seconds``: a finite number of seconds > 0 (omitted: no limit)."""
    if value is not None and not 0 < value < float("inf"):
        raise typer.BadParameter(f"must be a number of seconds > 0, got {value:g}")
    return value


DEVICE_CHOICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def device_choice(value: str) -> str:
    """``--device``: auto, cpu, cuda or cuda:N (whether that device exists is checked when the command runs)."""
    text = value.strip().lower()
    if not DEVICE_CHOICE.fullmatch(text):
        raise typer.BadParameter(f"must be auto, cpu, cuda or cuda:N, got {value!r}")
    return text


# ---- the aliases ---------------------------------------------------------------------------------------------------

Estimator = Annotated[str, typer.Option("--estimator", "-e", help="Gradient estimator (see `redge-solve estimators`).")]
Param = Annotated[Optional[list[str]], typer.Option(
    "--param", "-p", metavar="NAME=VALUE", callback=assignments,
    help="Estimator parameter, repeatable (e.g. -p n_steps=5).")]
Steps = Annotated[int, typer.Option("--steps", min=1, help="Adam steps per instance.")]
Samples = Annotated[int, typer.Option("--samples", min=1, help="Samples per step.")]
Restarts = Annotated[int, typer.Option("--restarts", min=1, help="Independent restarts per instance.")]
Lr = Annotated[float, typer.Option("--lr", help="Adam learning rate (> 0).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (the same seed gives the same results).")]
NoEarlyStop = Annotated[bool, typer.Option(
    "--no-early-stop", help="Keep optimising an instance after it is solved (to the last step).")]
ProtocolOption = Annotated[Protocol, typer.Option(
    "--protocol", case_sensitive=False,
    help="default, or paper: the paper's Table 2, 1000 steps, 1 sample, 1 restart, lr 0.05, no early stop, "
    "no pre-step, breakout weights, resets or growing restarts (options given explicitly still win).")]
Deduction = enum.Enum("Deduction", {level: level for level in DEDUCTION_LEVELS}, type=str)  # type: ignore[misc]
"""``--deduce``'s choices, the levels of ``SolverConfig.deduce``."""
DEFAULT_DEDUCE = Deduction(DEFAULTS.deduce)
"""``--deduce``'s default in the Sudoku commands."""
Deduce = Annotated[Deduction, typer.Option(
    "--deduce", case_sensitive=False,
    help="Exact pre-step from the clues (Sudoku): candidates removes the digits a cell's row, column and block "
    "hold; singles also places naked and hidden singles; none: the plain model (--protocol paper sets none).")]
WeightStep = Annotated[float, typer.Option(
    "--weight-step", min=0.0, metavar="X",
    help="Breakout weights: each step a penalty term's weight grows by this times the mode's value of the term "
    "(0: off).")]
ResetEvery = Annotated[int, typer.Option(
    "--reset-every", min=0, metavar="N",
    help="Unsolved puzzles start afresh (new logits, new Adam state) every N steps (0: never).")]
MaxRestarts = Annotated[int, typer.Option(
    "--max-restarts", min=0, metavar="N",
    help="More restarts for puzzles that take long: at every --growth-period-th fresh start the restarts of the "
    "unsolved puzzles double, up to N (0: always --restarts).")]
GrowthPeriod = Annotated[int, typer.Option(
    "--growth-period", min=1, metavar="N",
    help="The restarts of the unsolved puzzles double at every N-th fresh start (1: at each).")]
TailSamples = Annotated[int, typer.Option(
    "--tail-samples", min=0, metavar="S",
    help="Samples per step of the puzzles still unsolved once their restarts have grown (at least --samples; "
    "0: --samples throughout).")]
MaxLogit = Annotated[float, typer.Option(
    "--max-logit", min=0.0, metavar="A",
    help="Bounded logits: after each step every variable's logits are centred and clipped to ±(A + ln K), so the "
    "probabilities never saturate (0: unbounded).")]
Recombine = Annotated[bool, typer.Option(
    "--recombine/--no-recombine",
    help="Recombined restarts: each fresh start after the first starts a puzzle's restarts from the best grids of "
    "the cycle before (the 4 best as they were, the others crossovers of two with their conflicting cells left "
    "free) instead of fresh logits.")]
MAX_SECONDS_HELP = ("Time budget in seconds for the whole command (> 0): when it is spent, what is still unsolved "
                    "stops, unsolved (default: no limit).")
"""``--max-seconds``' help, the same sentence in every command (a test checks it)."""
MaxSeconds = Annotated[Optional[float], typer.Option(
    "--max-seconds", metavar="S", show_default=False, callback=positive_seconds, help=MAX_SECONDS_HELP)]
DEVICE_HELP = "Where to solve: auto (CUDA when torch sees a GPU, else the CPU), cpu, cuda or cuda:N."
DeviceOption = Annotated[str, typer.Option("--device", metavar="auto|cpu|cuda|cuda:N", callback=device_choice,
                                           help=DEVICE_HELP)]

Out = Annotated[Optional[str], typer.Option(
    "--out", "-o", metavar="PATH", callback=output_directory,
    help="Write one JSON record per instance (JSON Lines) to PATH; '-' for stdout.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing output file (never one of the inputs).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, boards, tables or summary; errors only "
                                                          "(output files are still written).")]

Estimators = Annotated[str, typer.Option(
    "--estimators", "-e", help="Comma-separated estimators (reinforce needs --samples >= 2).")]
DEFAULT_ESTIMATORS = "st,gumbel,reinmax,redge,redge-max,redge-cov"
"""The default of ``--estimators``: the six estimators of the paper's Table 2 (``estimators.PAPER_ESTIMATORS``,
written out so that ``--help`` imports no torch; a test keeps the two equal)."""
Seeds = Annotated[str, typer.Option(
    "--seeds", callback=seed_list, help="Number of seeds (0..N-1) or a list like 0,5,7.")]

Executor = Annotated[str, typer.Option("--executor", help=EXECUTOR_HELP)]
Address = Annotated[Optional[str], typer.Option("--address", help=ADDRESS_HELP)]
NumWorkers = Annotated[Optional[int], typer.Option("--num-workers", min=1, help=WORKERS_HELP)]

def per_source_default(name: str) -> str:
    """``(default: ...)`` of a ``compare`` solver option, whose default depends on the source and the protocol:
    ``(default: Sudoku 100000 (16×16 20000, 25×25 20000), queens 3000, graphs 10000; --protocol paper: 1000)``: the
    big grids' own values in brackets where they differ from 9×9's."""
    from ..problem_defaults import COLOR_DEFAULTS, QUEENS_DEFAULTS
    from ..settings import PAPER_PROTOCOL

    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return f"{value:g}" if isinstance(value, float) else str(value)

    values = [getattr(d, name) for d in (DEFAULTS, QUEENS_DEFAULTS, COLOR_DEFAULTS)]
    big = [f"{side}×{side} {shown(getattr(d, name))}" for side, d in BIG_GRID_DEFAULTS.items()
           if getattr(d, name) != values[0]]
    sudoku = shown(values[0]) + (f" ({', '.join(big)})" if big else "")
    text = (sudoku if len(set(values)) == 1 and not big else
            ", ".join(f"{what} {v}" for what, v in zip(("Sudoku", "queens", "graphs"),
                                                       [sudoku, *map(shown, values[1:])], strict=True)))
    if name in PAPER_PROTOCOL:
        text += f"; --protocol paper: {shown(PAPER_PROTOCOL[name])}"
    return f"(default: {text})"


SOLVER_FIELDS = RUN_FIELDS
"""The ``SolverConfig`` fields that a command's options of the same name set."""


def solver_config(ctx: typer.Context, defaults: SolverConfig = DEFAULTS) -> SolverConfig:
    """The settings a command's solver options ask for: ``build_config(defaults, --estimator, --param,
    --protocol, ...)`` with, of ``--steps/--samples/--restarts/--lr/--seed/--no-early-stop``, only those given
    explicitly (on the command line or from the environment). A bad value or combination is a one-line usage
    error (exit 2)."""
    values = ctx.params
    params = parse_assignments(values.get("param") or [], "--param")
    try:
        return build_config(defaults, values.get("estimator"), params, values.get("protocol", Protocol.default),
                            **explicit_settings(ctx))
    except ValueError as error:
        fail(str(error))


def sudoku_configs(ctx: typer.Context, sides: Iterable[int]) -> dict[int, SolverConfig]:
    """The settings of each Sudoku grid side of ``sides``: its own defaults (``settings.sudoku_defaults``) under
    the options given explicitly (``solver_config``), so an option given applies to every size. What ``sudoku`` and
    ``batch`` solve each size with."""
    return {side: solver_config(ctx, sudoku_defaults(side)) for side in sorted(sides)}


def size_defaults_help() -> str:
    """The sentence of ``sudoku --help`` and ``batch --help`` that says which defaults the big grids pick (from
    ``BIG_GRID_DEFAULTS``)."""
    from .flags import FLAGS

    def shown(name: str, value: Any) -> str:
        if name == "params":
            return " ".join(f"-p {k}={v:g}" for k, v in value.items()) or f"plain {DEFAULTS.estimator}"
        named = {**FLAGS, "init_std": "random initial logits of std"}  # init_std has no option
        if isinstance(value, bool):
            return named.get(name, name).replace("--", "--" if value else "--no-", 1)
        return f"{named.get(name, name)} {value:g}" if isinstance(value, float) else f"{named.get(name, name)} {value}"

    def values(config: SolverConfig) -> str:
        return ", ".join(shown(f.name, getattr(config, f.name)) for f in fields(SolverConfig)
                         if getattr(config, f.name) != getattr(DEFAULTS, f.name)) or "the same"

    sizes = "; ".join(f"{side}×{side}: {values(config)}" for side, config in BIG_GRID_DEFAULTS.items())
    return (f"The defaults shown are those of 4×4 and 9×9 grids, where the estimator {DEFAULTS.estimator} draws its "
            f"samples at {shown('params', DEFAULTS.params)} (another -e, or --protocol paper, runs with that "
            "estimator's own parameters). A 16×16 or 25×25 grid picks its own "
            f"({sizes}); an option given explicitly applies to every size.")


def explicit_settings(ctx: typer.Context) -> dict[str, Any]:
    """The ``SolverConfig`` fields that the command's options set explicitly (on the command line or from the
    environment, not by default): of ``SOLVER_FIELDS``, and ``early_stop=False`` for ``--no-early-stop``. What
    goes on top of the protocol in ``build_config(..., **explicit_settings(ctx))``."""
    explicit: dict[str, Any] = {name: _plain(ctx.params[name]) for name in SOLVER_FIELDS
                                if name in ctx.params and _given(ctx, name)}
    if ctx.params.get("no_early_stop"):
        explicit["early_stop"] = False
    return explicit


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value  # --deduce's choice as SolverConfig's string


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def check_output_or_exit(field: str, given: str | Path | None, inputs: list[Any] | tuple[Any, ...] = (),
                         force: bool = False, **policy: Any) -> None:
    """The output policy (``runs.outputs.check_output``, with its keyword arguments ``policy``) for the option of
    ``field`` as typed (``given``); a refusal is a one-line error (exit 2, the field written as its option) before
    any work."""
    try:
        check_output(field, given, inputs, force=force, **policy)
    except OutputRefused as error:
        fail(str(error))


def open_device(name: str) -> Any:
    """The ``torch.device`` of ``--device NAME``; one that torch cannot use here (``cuda`` without a GPU) is a
    one-line error with exit code 2."""
    from ..devices import DeviceUnavailable, resolve_device  # torch: when the command runs, not for its --help

    try:
        return resolve_device(name)
    except DeviceUnavailable as error:
        fail(f"--device {name}: {error}")


# ---- the solver options of a command, declared once -----------------------------------------------------------------

SOLVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("estimator", Estimator), ("param", Param), ("steps", Steps), ("samples", Samples), ("restarts", Restarts),
    ("lr", Lr), ("seed", Seed), ("no_early_stop", NoEarlyStop), ("protocol", ProtocolOption), ("deduce", Deduce),
    ("weight_step", WeightStep), ("reset_every", ResetEvery), ("max_restarts", MaxRestarts),
    ("growth_period", GrowthPeriod), ("tail_samples", TailSamples), ("max_logit", MaxLogit),
    ("recombine", Recombine), ("max_seconds", MaxSeconds), ("device", DeviceOption),
)
"""Every option of a command that solves with one estimator, in the order ``--help`` lists them: the estimator, the
``SolverConfig`` knobs, the protocol, the time budget and the device (docs/cli.md)."""


SUDOKU_ONLY = ("deduce", "recombine")
"""The options of ``SOLVER_OPTIONS`` that only the Sudoku commands have (their problems' pre-step and conflicts)."""


def _option_default(name: str, defaults: SolverConfig) -> Any:
    if name == "param" or name == "max_seconds":
        return None
    if name == "no_early_stop":
        return False
    if name == "protocol":
        return Protocol.default
    if name == "device":
        return "auto"
    if name == "deduce":
        return Deduction(defaults.deduce)
    return getattr(defaults, name)


def solver_options(defaults: SolverConfig, deduce: bool = False) -> Any:
    """A decorator that gives a command every option of ``SOLVER_OPTIONS`` (``--deduce`` only with ``deduce``: the
    Sudoku commands), with ``defaults``' values shown by ``--help``, after the command's own arguments and before
    its own options. The command does not receive them as arguments: ``solver_config(ctx, defaults)`` reads them
    from the context, ``ctx.params["device"]`` the device."""
    return with_options([(name, alias, _option_default(name, defaults)) for name, alias in SOLVER_OPTIONS
                         if deduce or name not in SUDOKU_ONLY])


def with_options(added: list[tuple[str, Any, Any]] | tuple[tuple[str, Any, Any], ...]) -> Any:
    """A decorator that adds the options ``(name, Annotated alias, default)`` to a command's signature after its
    arguments; the command reads them from ``ctx.params`` (it is not called with them)."""
    import functools
    import inspect

    names = [name for name, _, _ in added]

    def decorate(command: Any) -> Any:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        first_option = next((i for i, p in enumerate(own) if p.name != "ctx" and not _is_argument(p)), len(own))
        extra = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=alias, default=default)
                 for name, alias, default in added]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            for name in names:
                kwargs.pop(name, None)
            return command(*args, **kwargs)

        run.__signature__ = signature.replace(parameters=[*own[:first_option], *extra, *own[first_option:]])
        return run

    return decorate


def _is_argument(parameter: Any) -> bool:
    from typing import get_args

    markers = [parameter.default, *get_args(parameter.annotation)[1:]]
    return any(type(m).__name__ == "ArgumentInfo" for m in markers)


def command_device(ctx: typer.Context) -> Any:
    """The ``torch.device`` of the command's ``--device`` (``open_device``)."""
    return open_device(ctx.params["device"])
