"""``redge-solve compare SOURCE``: run several estimators (and parameter grids) on the same puzzles, optionally each
tuned first, then a table, and optionally PREFIX.csv / PREFIX.json / PREFIX.png. Only validates, shows progress and
renders: the work is ``redge_solve.compare`` and ``redge_solve.tuning``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import compare_options as co
from . import options as opt
from .app import app
from .common import ExitCode, console, err_console, fail, parse_assignments, sigterm_as_interrupt
from .executor_opts import open_executor

DEFAULT_ESTIMATORS = "st,gumbel,reinmax,redge,redge-max,redge-cov,exact"


def _fmt(stat, digits: int = 1) -> str:
    """``mean±std`` without spaces, so a cell never wraps; "—" when every run of the row diverged (NaN)."""
    if stat.mean != stat.mean:
        return "—"
    return f"{stat.mean:.{digits}f}±{stat.std:.{digits}f}"


def render_table(rows, title: str, show_lr: bool = False) -> Table:
    """One row per estimator setting, readable at 80 columns and in a pipe: its parameters (the tuned lr, and
    diverged runs, if any) go on their own line under the estimator's name, folded when long; means ± std are
    written without spaces and the headers take two lines. Solved columns are % (mean ± std over seeds); loss is
    mean ± std over puzzles and seeds; step: mean first solved step."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True, leading=1)
    table.add_column("estimator\nparameters", overflow="fold", min_width=9)
    for header in ("\nloss", "solved %\nlast", "solved %\nmode", "solved %\nany", "\nfound", "mean\nstep",
                   "ms/\nstep"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row.params.items()) or "defaults"
        if show_lr:
            params += f"; lr={row.config['lr']:.3g}"
        if row.diverged:
            params += f"; [red]{row.diverged} of {row.diverged + len(row.seeds)} runs diverged[/]"
        table.add_row(
            f"[bold cyan]{row.estimator}[/]\n[dim]{params}[/]",
            _fmt(row.stats["loss"]),
            *(_fmt(row.stats[key]) for key in ("solved_last", "solved_mode", "solved_any", "found")),
            "—" if row.mean_step_to_solve is None else f"{row.mean_step_to_solve:.0f}",
            "—" if row.ms_per_step != row.ms_per_step else f"{row.ms_per_step:.1f}",
        )
    return table


def settings_line(config, protocol: str, specs, seeds, lr_tuned: bool = False, device=None) -> str:
    """What every run will use, before the first starts: the protocol's settings after the overrides (``config``:
    the first run's, less its estimator), the estimator specs, the seeds and the ``device`` when given."""
    restarts = str(config.restarts)
    if config.max_restarts > config.restarts and config.reset_every:
        restarts += f" (growing to {config.max_restarts})"
    parts = [f"protocol {protocol}", f"steps {config.steps}", f"samples {config.samples}", f"restarts {restarts}",
             "lr tuned" if lr_tuned else f"lr {config.lr:g}", f"early stop {'on' if config.early_stop else 'off'}",
             f"deduce {config.deduce}", f"weight step {config.weight_step:g}", f"reset every {config.reset_every}"]
    if config.max_logit:
        parts.append(f"max logit {config.max_logit:g}")
    if config.max_seconds is not None:
        parts.append(f"max seconds {config.max_seconds:g}")
    if device is not None:
        parts.append(f"device {device}")
    parts += ["estimators " + ", ".join(spec.label for spec in specs), "seeds " + ",".join(map(str, seeds))]
    return "settings: " + " · ".join(parts)


PAIR_CRITERIA = ("found", "solved_last")
"""The criteria the --pairs table shows (the files have all four): the headline one and the paper's."""


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def render_pairs(report) -> Table:
    """The --pairs table: per criterion (``PAIR_CRITERIA``) and pair the difference A − B in solved % (percentage
    points) with its interval, the puzzles where each is better (the sign test's counts), the p-value and the
    reading. Each rate itself is in the main table (and with the rest in the files)."""
    level = f"{100 * report.level:g}%"
    table = Table(title=f"A − B in solved % · {level} interval: paired bootstrap over puzzles, B={report.resamples}"
                        " · p: exact sign test on puzzles", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("A − B", overflow="fold", min_width=9)
    table.add_column("criterion")
    for header in ("Δ", f"{level} interval", "puzzles\nA>B B>A", "p"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("reading", overflow="fold")
    shown = [d for d in report.differences if d.criterion in PAIR_CRITERIA]
    for d in sorted(shown, key=lambda d: PAIR_CRITERIA.index(d.criterion)):  # stable: pairs in order within each
        if not d.seeds:
            table.add_row(f"{d.a} − {d.b}", d.criterion, *["—"] * 4, d.verdict)
            continue
        reading = d.verdict if d.clear else f"[dim]{d.verdict}[/]"
        table.add_row(f"{d.a} − {d.b}", d.criterion.replace("solved_", ""), _signed(d.difference),
                      f"[{_signed(d.low)}, {_signed(d.high)}]",
                      f"{d.a_better} {d.b_better}", f"{d.p_value:.3g}", reading)
    return table


@app.command("compare")
@opt.with_options(co.KNOBS)
def compare_command(
    ctx: typer.Context,
    source: co.Source,
    colors: co.Colors = None,
    split: co.Split = "train",
    offset: co.Offset = 0,
    limit: co.Limit = None,
    puzzle_column: co.PuzzleColumn = "puzzle",
    solution_column: co.SolutionColumn = "solution",
    estimators: opt.Estimators = DEFAULT_ESTIMATORS,
    seeds: opt.Seeds = "3",
    param: co.Param = None,
    grid: co.Grid = None,
    tune: co.Tune = None,
    tune_fraction: co.TuneFraction = 0.5,
    tune_lr: co.TuneLr = False,
    tune_seeds: co.TuneSeeds = "1",
    criterion: co.Criterion = "solved_last",
    tune_storage: co.TuneStorage = None,
    diagnose: co.Diagnose = False,
    diagnose_only: co.DiagnoseOnly = False,
    checkpoints: co.Checkpoints = "0,10,100,1000",
    draws: co.Draws = 200,
    diagnose_puzzles: co.DiagnosePuzzles = 10,
    out: co.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    executor_name: opt.Executor = "local",
    address: opt.Address = None,
    num_workers: opt.NumWorkers = None,
    chunk_size: co.ChunkSize = None,
    pairs: co.Pairs = False,
    baseline: co.Baseline = None,
    bootstrap: co.Bootstrap = 10_000,
) -> None:
    """Compare gradient estimators on the same puzzles: loss, solved % (last sample / mode / any), speed;
    optionally each tuned first (--tune)."""
    a = SimpleNamespace(**ctx.params)  # every option, the solver knobs of co.KNOBS included
    plan = _plan(a)  # everything is validated before any data is loaded or any run starts
    data, base, parts = _load(a, plan)
    if a.diagnose_only:
        _diagnose(data, plan.specs, base.lr, base.samples, plan.checkpoints, a.draws, a.diagnose_puzzles, a.out,
                  a.quiet)
        return
    result = _run(a, plan, data, base, parts)
    _report(a, plan, result)
    if plan.diagnose:
        from ..compare import EstimatorSpec

        specs = [EstimatorSpec(row.estimator, tuple(row.params.items())) for row in result.rows]
        _diagnose(parts[-1], specs, base.lr, base.samples, plan.checkpoints, a.draws, a.diagnose_puzzles, a.out,
                  a.quiet)


def _plan(a: SimpleNamespace) -> SimpleNamespace:
    """The validated plan of a comparison: specs, seeds, overrides, what to pair and tune, the output files; a bad
    option or combination is a one-line error (exit 2) before any data is loaded."""
    from ..compare import CRITERIA, expand_specs, run_config

    if a.criterion not in CRITERIA:
        fail(f"--criterion must be one of {', '.join(CRITERIA)}, got {a.criterion!r}")
    plan = SimpleNamespace(seeds=list(a.seeds), tune_seeds=list(a.tune_seeds), diagnose=a.diagnose or a.diagnose_only,
                           pairs=a.pairs or a.baseline is not None, baseline_row=None)
    names = [n.strip() for n in a.estimators.split(",") if n.strip()]
    fixed = parse_assignments(a.param or [], "--param")
    grids = {k: [v.strip() for v in values.split(",") if v.strip()] for k, values in
             parse_assignments(a.grid or [], "--grid").items()}
    plan.overrides = dict(steps=a.steps, samples=a.samples, restarts=a.restarts, lr=a.lr, weight_step=a.weight_step,
                          reset_every=a.reset_every, max_restarts=a.max_restarts, growth_period=a.growth_period,
                          tail_samples=a.tail_samples,
                          max_logit=a.max_logit, recombine=a.recombine,
                          max_seconds=a.max_seconds, deduce=a.deduce and a.deduce.value,
                          early_stop=False if a.no_early_stop else None)
    try:
        plan.specs = expand_specs(names, fixed, grids)
        for spec in [] if a.diagnose_only else plan.specs:
            run_config(spec, plan.seeds[0], a.protocol, plan.overrides)
        if a.baseline is not None:  # the row it names, by position (tuning changes the labels, not the order)
            from ..paired import resolve_baseline

            labels = [spec.label for spec in plan.specs]
            plan.baseline_row = labels.index(resolve_baseline(a.baseline, labels, [s.name for s in plan.specs]))
    except ValueError as exc:
        fail(str(exc))
    _check_combinations(a, plan, grids)
    plan.checkpoints = _steps(a.checkpoints) if plan.diagnose else []
    from ..compare import OUTPUT_SUFFIXES, PAIRS_SUFFIX
    from ..diagnostics import DIAGNOSTICS_SUFFIXES
    from ..tuning import TUNING_SUFFIXES

    outputs = (() if a.diagnose_only else OUTPUT_SUFFIXES) + ((PAIRS_SUFFIX,) if plan.pairs else ()) + \
        (TUNING_SUFFIXES if a.tune is not None else ()) + (DIAGNOSTICS_SUFFIXES if plan.diagnose else ())
    opt.check_output_or_exit("out", a.out, [a.source], a.force, suffixes=outputs)
    plan.device = opt.open_device(a.device)
    return plan


def _check_combinations(a: SimpleNamespace, plan: SimpleNamespace, grids: dict) -> None:
    """Options that exclude each other, and --tune's needs (Optuna installed)."""
    if a.max_seconds is not None and (a.tune is not None or plan.diagnose):
        fail("--max-seconds bounds the comparison runs only; drop --tune/--diagnose to use it")
    if plan.pairs and (a.diagnose_only or len(plan.specs) < 2):
        fail("--pairs/--baseline need at least two compared rows")
    if a.diagnose_only and a.tune is not None:
        fail("--diagnose-only runs no comparison to tune; drop --tune (or use --diagnose)")
    if a.tune is None:
        return
    from ..tuning import OptunaMissing, import_optuna

    if grids:
        fail("--tune chooses the parameters itself; drop --grid (fix a parameter with --param)")
    if a.tune_lr and a.lr is not None:
        fail("--tune-lr tunes the learning rate; drop --lr")
    if not 0 < a.tune_fraction < 1:
        fail(f"--tune-fraction must lie strictly between 0 and 1, got {a.tune_fraction}")
    try:
        import_optuna()
    except OptunaMissing as exc:
        fail(str(exc))


def _load(a: SimpleNamespace, plan: SimpleNamespace) -> tuple:
    """The instances (on the device), the base config of the source (for --diagnose and the settings line), and the
    parts: (tuning, test) with --tune, else the whole."""
    from ..compare import CompareInputError, EstimatorSpec, load_compare_input, run_config

    try:
        data = load_compare_input(a.source, a.colors, a.split, a.offset, a.limit, a.puzzle_column,
                                  a.solution_column or None, plan.device)
        base = run_config(EstimatorSpec("st"), plan.seeds[0], a.protocol, plan.overrides, data.defaults)
        parts = data.split(a.tune_fraction) if a.tune is not None else (data,)
    except (CompareInputError, ValueError) as exc:
        fail(str(exc))
    if a.deduce is not None and data.kind != "sudoku":
        fail(f"--deduce is Sudoku's pre-step; {a.source} is not Sudoku: drop it")
    if a.recombine is not None and data.kind != "sudoku":
        fail(f"--recombine/--no-recombine is about Sudoku grids; {a.source} is not Sudoku: drop it")
    return data, base, parts


def _run(a: SimpleNamespace, plan: SimpleNamespace, data, base, parts):
    """Run the comparison (tuned first with --tune) with progress bars; Ctrl-C keeps finished trials, exits 130."""
    from ..compare import compare
    from ..executors import task_size

    executor = open_executor(a.executor_name, a.address, a.num_workers)
    chunk_size = a.chunk_size
    if chunk_size is None and executor.name == "ray":
        chunk_size = task_size(max(len(p) for p in parts), executor.workers)  # a run's tasks: one per worker
    plan_runs = len(plan.specs) * len(plan.seeds)
    if not a.quiet:
        tuning_note = (f"after tuning each on {len(parts[0])} of them ({a.tune} trials, {len(plan.tune_seeds)} "
                       "seed(s)), " if a.tune is not None else "")
        err_console.print(
            f"comparing {len(plan.specs)} estimator spec(s) × {len(plan.seeds)} seed(s) = {plan_runs} runs on "
            f"{len(parts[-1])} puzzles {tuning_note}({a.protocol.value} protocol)", highlight=False)
        err_console.print(settings_line(base, a.protocol.value, plan.specs, plan.seeds, a.tune_lr, plan.device),
                          highlight=False, soft_wrap=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=a.quiet)
    with bar, sigterm_as_interrupt():
        on_run, on_trial, on_step = _callbacks(a, bar, plan_runs, len(plan.specs), executor.in_process)
        try:
            if a.tune is None:
                return compare(data.problem, data.make_records, plan.specs, plan.seeds, a.protocol, plan.overrides,
                               puzzle_ids=data.ids, on_run=on_run, on_step=on_step, executor=executor,
                               chunk_size=chunk_size, defaults=data.defaults)
            from ..tuning import TuneSettings, tune_and_compare

            settings = TuneSettings(a.tune, a.criterion, a.protocol, plan.overrides, tuple(plan.tune_seeds),
                                    a.tune_lr, storage=a.tune_storage)
            return tune_and_compare(data, plan.specs, plan.seeds, settings, a.tune_fraction, executor, chunk_size,
                                    on_trial=on_trial, on_run=on_run, on_step=on_step)
        except KeyboardInterrupt as interrupt:
            err_console.print("interrupted")
            if a.tune is not None and a.out:
                from ..tuning import TuningInterrupted

                if isinstance(interrupt, TuningInterrupted):
                    _write_trials(interrupt, a.out)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        finally:
            executor.close()


def _callbacks(a: SimpleNamespace, bar: Progress, plan_runs: int, specs: int, in_process: bool) -> tuple:
    """``on_run``, ``on_trial`` and ``on_step`` for the bars (a line per run or trial where no bar shows)."""
    lines = not a.quiet and not err_console.is_terminal
    trials_task = bar.add_task("trials", total=(a.tune or 0) * specs, visible=a.tune is not None)
    outer = bar.add_task("runs", total=plan_runs)
    inner = bar.add_task("steps", total=1, visible=in_process)  # steps are seen only in-process

    def on_run(event) -> None:
        if event.run is None:
            bar.update(inner, description=f"{event.spec.label} seed {event.seed}", completed=0,
                       total=event.config.steps)
            return
        bar.advance(outer)
        if lines:
            run = event.run
            note = run.error or f"{sum(r['found'] for r in run.records)}/{len(run.records)} found"
            err_console.print(f"[{event.index + 1}/{event.total}] {event.spec.label} seed {event.seed}: "
                              f"{note}, {run.seconds:.1f} s", highlight=False, soft_wrap=True)

    def on_trial(event) -> None:
        bar.advance(trials_task)
        if lines:
            t = event.trial
            result = t.error or f"{a.criterion} {t.rate:.1f}%, loss {t.loss:.2f}"
            err_console.print(f"tune {event.estimator} [{event.done}/{event.total}] {t.params}: {result}"
                              + (f" (= trial {t.repeat_of})" if t.repeat_of is not None else ""),
                              highlight=False, soft_wrap=True)

    def on_step(p) -> None:
        bar.update(inner, completed=p.step, total=p.steps)

    return on_run, on_trial, on_step


def _report(a: SimpleNamespace, plan: SimpleNamespace, result) -> None:
    """The table (and the pairs), then the files of --out."""
    result.settings = dict(source=a.source, split=a.split, offset=a.offset, limit=a.limit, seeds=plan.seeds)
    if a.tune is not None:
        result.settings.update(tune=a.tune, tune_fraction=a.tune_fraction, tune_lr=a.tune_lr,
                               tune_seeds=plan.tune_seeds, criterion=a.criterion)
    config = result.rows[0].config
    title = (f"{a.protocol.value} protocol · {len(result.puzzle_ids)} puzzles · seeds "
             f"{','.join(map(str, plan.seeds))} · {config['steps']} steps, {config['samples']} sample(s), "
             f"{config['restarts']} restart(s), " + ("lr tuned" if a.tune_lr else f"lr {config['lr']}")
             + f", early stop {'on' if config['early_stop'] else 'off'}"
             + (f" · tuned on {len(result.splits['tune'])} other puzzles, {a.tune} trials by {a.criterion}"
                if a.tune is not None else ""))
    if not a.quiet:
        console.print(render_table(result.rows, title, show_lr=a.tune_lr))
    if plan.pairs:
        report = result.add_pairs(None if a.baseline is None else result.rows[plan.baseline_row].label, a.bootstrap)
        if not a.quiet:
            console.print()
            console.print(render_pairs(report))
    if not a.out:
        return
    try:
        from ..compare import write_outputs

        paths = write_outputs(result, a.out)
        if a.tune is not None:
            from ..tuning import write_tuning

            paths += write_tuning(result.tuning, result.splits, a.out)
    except OSError as exc:
        fail(f"cannot write {a.out}.*: {exc}")
    if not a.quiet:
        err_console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def _steps(text: str) -> list[int]:
    try:
        steps = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        steps = []
    if not steps or steps[0] < 0:
        fail(f"--checkpoints must list steps >= 0 like 0,10,100, got {text!r}")
    return steps


def _diagnose(data, specs, lr: float, samples: int, checkpoints: list[int], draws: int, puzzles: int,
              out: Optional[str], quiet: bool) -> None:
    """``--diagnose``: the gradient diagnostics of ``specs`` (the exact reference left out), as a table (and files
    with --out), on the first ``puzzles`` of ``data`` along the exact trajectory at ``lr``."""
    from ..diagnostics import diagnose, write_diagnostics

    subset = data.subset(slice(0, puzzles))
    specs = [spec for spec in specs if spec.name != "exact"]
    config = dict(lr=lr, samples=samples)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=quiet)
    with bar, sigterm_as_interrupt():
        task = bar.add_task("diagnostics", total=len(specs) * len(checkpoints))
        try:
            results = diagnose(subset.problem, specs, checkpoints, draws, config["samples"], config["lr"],
                               on_result=lambda _: bar.advance(task))
        except ValueError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    table = Table(title=f"gradient diagnostics · {len(subset)} puzzles · exact-gradient trajectory, lr "
                        f"{config['lr']} · {draws} draws", title_justify="left")
    for name in ("step", "estimator", "samples", "cosine", "rel. bias ± noise", "rel. variance"):
        table.add_column(name, justify="left" if name == "estimator" else "right")
    for r in results:
        table.add_row(str(r.step), r.label, str(r.samples), f"{r.cosine:.3f}", f"{r.bias:.3g} ± {r.bias_se:.2g}",
                      f"{r.variance:.3g}")
    if not quiet:
        console.print(table)
    if out:
        settings = dict(puzzles=list(subset.ids), checkpoints=checkpoints, draws=draws, lr=config["lr"],
                        samples=config["samples"])
        try:
            paths = write_diagnostics(results, out, settings)
        except OSError as exc:
            fail(f"cannot write {out}-diagnostics.*: {exc}")
        if not quiet:
            err_console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def _write_trials(interrupt, out: str) -> None:
    """What Ctrl-C during tuning keeps: every finished trial and both splits."""
    from ..tuning import write_tuning

    try:
        paths = write_tuning(interrupt.studies, interrupt.splits, out)
    except OSError as exc:
        fail(f"cannot write {out}-*: {exc}")
    err_console.print("kept the finished trials: " + ", ".join(str(p) for p in paths), highlight=False)
