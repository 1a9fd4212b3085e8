"""``redge-solve compare SOURCE``: run several estimators (and parameter grids) on the same puzzles, optionally each
tuned first, then a table, and optionally PREFIX.csv / PREFIX.json / PREFIX.png. Only validates, shows progress and
renders: the work is ``redge_solve.compare`` and ``redge_solve.tuning``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import Protocol
from . import options as opt
from .app import app
from .common import console, err_console, fail, parse_assignments, sigterm_as_interrupt
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
def compare_command(
    source: str = typer.Argument(..., help="Puzzle file (csv/tsv/parquet/json/jsonl) or hf:OWNER/NAME; or a DIMACS "
                                 ".col file or a directory of them (graph colouring); or queens:N1,N2,..."),
    colors: Optional[int] = typer.Option(None, "--colors", min=1, help="Colours for .col graphs (default: each "
                                         "file's 'c chromatic number')."),
    split: str = typer.Option("train", "--split", help="Dataset split (hub or local)."),
    offset: int = typer.Option(0, "--offset", min=0, help="First row to use."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Number of rows to use (default: all)."),
    puzzle_column: str = typer.Option("puzzle", "--puzzle-column"),
    solution_column: str = typer.Option("solution", "--solution-column"),
    estimators: opt.Estimators = DEFAULT_ESTIMATORS,
    seeds: opt.Seeds = "3",
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", "-p", callback=opt.assignments, metavar="EST.NAME=VALUE",
        help="ESTIMATOR.PARAM=VALUE (repeatable).")] = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        "--grid", callback=opt.assignments, help="ESTIMATOR.PARAM=V1,V2,... (repeatable; cartesian product).")] = None,
    protocol: opt.ProtocolOption = Protocol.default,
    steps: Annotated[Optional[int], typer.Option(
        "--steps", min=1, show_default=False, help=f"Adam steps per instance {opt.per_source_default('steps')}.")
    ] = None,
    samples: Annotated[Optional[int], typer.Option(
        "--samples", min=1, show_default=False, help=f"Samples per step {opt.per_source_default('samples')}.")
    ] = None,
    restarts: Annotated[Optional[int], typer.Option(
        "--restarts", min=1, show_default=False,
        help=f"Independent restarts per instance {opt.per_source_default('restarts')}.")] = None,
    lr: Annotated[Optional[float], typer.Option(
        "--lr", show_default=False, help=f"Adam learning rate (> 0) {opt.per_source_default('lr')}.")] = None,
    deduce: Annotated[Optional[opt.Deduction], typer.Option(
        "--deduce", case_sensitive=False, show_default=False,
        help=f"Exact pre-step from the clues (Sudoku only; see `sudoku --help`) {opt.per_source_default('deduce')}."
    )] = None,
    weight_step: Annotated[Optional[float], typer.Option(
        "--weight-step", min=0.0, metavar="X", show_default=False,
        help=f"Breakout weights, 0: off {opt.per_source_default('weight_step')}.")] = None,
    reset_every: Annotated[Optional[int], typer.Option(
        "--reset-every", min=0, metavar="N", show_default=False,
        help=f"Fresh starts every N steps, 0: never {opt.per_source_default('reset_every')}.")] = None,
    max_restarts: Annotated[Optional[int], typer.Option(
        "--max-restarts", min=0, metavar="N", show_default=False,
        help=f"Growing restarts up to N, 0: off {opt.per_source_default('max_restarts')}.")] = None,
    max_logit: Annotated[Optional[float], typer.Option(
        "--max-logit", min=0.0, metavar="A", show_default=False,
        help=f"Bounded logits, 0: unbounded {opt.per_source_default('max_logit')}.")] = None,
    no_early_stop: opt.NoEarlyStop = False,
    max_seconds: opt.MaxSeconds = None,
    device: opt.DeviceOption = "auto",
    tune: Optional[int] = typer.Option(
        None, "--tune", min=1, metavar="N",
        help="Tune each estimator first: an Optuna study of N trials (seeded TPE) on the first --tune-fraction of "
             "the puzzles, then the table with the chosen parameters on the rest (needs the optional 'tune' extra)."),
    tune_fraction: float = typer.Option(0.5, "--tune-fraction", min=0.0, max=1.0,
                                        help="Share of the puzzles (the first ones) used for tuning."),
    tune_lr: bool = typer.Option(False, "--tune-lr", help="Tune the learning rate too (log-uniform 0.005..0.5)."),
    tune_seeds: Annotated[str, typer.Option("--tune-seeds", callback=opt.seed_list,
                                            help="Seeds of each trial: a count or a list like 0,5.")] = "1",
    criterion: str = typer.Option("solved_last", "--criterion",
                                  help="What tuning maximises: solved_last, solved_mode, solved_any or found "
                                       "(ties broken by the mean final penalty)."),
    tune_storage: Optional[str] = typer.Option(
        None, "--tune-storage", metavar="URL",
        help="Optuna storage (e.g. sqlite:///tune.db): a rerun resumes its studies instead of starting over."),
    diagnose: bool = typer.Option(
        False, "--diagnose",
        help="Then measure each estimator's gradient against the exact one (cosine, relative bias ± its noise, "
             "relative variance) at --checkpoints of an exact-gradient trajectory on the first --diagnose-puzzles."),
    diagnose_only: bool = typer.Option(
        False, "--diagnose-only", help="Only the diagnostics, no comparison runs (so reinforce may join with the "
                                       "paper protocol's one sample: each estimate uses at least its minimum)."),
    checkpoints: str = typer.Option("0,10,100,1000", "--checkpoints", help="Steps at which --diagnose measures."),
    draws: int = typer.Option(200, "--draws", min=2, help="Gradient estimates per estimator and checkpoint."),
    diagnose_puzzles: int = typer.Option(10, "--diagnose-puzzles", min=1,
                                         help="Puzzles (the first of the compared ones) --diagnose uses."),
    out: Annotated[Optional[str], typer.Option(
        "--out", "-o", metavar="PREFIX", callback=opt.output_directory,
        help="Write PREFIX.csv, PREFIX.json and PREFIX.png (with --tune also PREFIX-trials.csv, PREFIX-splits.csv, "
        "PREFIX-tuning.png; with --diagnose PREFIX-diagnostics.csv/.json/.png).")] = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    executor_name: opt.Executor = "local",
    address: opt.Address = None,
    num_workers: opt.NumWorkers = None,
    chunk_size: Optional[int] = typer.Option(
        None, "--chunk-size", min=1, help="Puzzles per task [default: all; with ray, split over the workers]."),
    pairs: bool = typer.Option(
        False, "--pairs", help="Then the paired differences in solved % between every two rows (or each and "
                               "--baseline): a 95% paired-bootstrap interval over puzzles and an exact sign test "
                               "(with --out also PREFIX-pairs.csv)."),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", metavar="EST", help="Pair every row with this one only (an estimator, or a row's label); "
                                                "implies --pairs."),
    bootstrap: int = typer.Option(10_000, "--bootstrap", min=100, metavar="B",
                                  help="Bootstrap resamples of --pairs."),
) -> None:
    """Compare gradient estimators on the same puzzles: loss, solved % (last sample / mode / any), speed;
    optionally each tuned first (--tune)."""
    from ..compare import (
        CRITERIA,
        CompareInputError,
        EstimatorSpec,
        compare,
        expand_specs,
        load_compare_input,
        run_config,
    )

    # --- everything is validated before any data is loaded or any run starts
    if criterion not in CRITERIA:
        fail(f"--criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    seed_list = list(seeds)  # a list already (the option's callback)
    names = [n.strip() for n in estimators.split(",") if n.strip()]
    fixed = parse_assignments(param or [], "--param")
    grids = {k: [v.strip() for v in values.split(",") if v.strip()] for k, values in
             parse_assignments(grid or [], "--grid").items()}
    overrides = dict(steps=steps, samples=samples, restarts=restarts, lr=lr, weight_step=weight_step,
                     reset_every=reset_every, max_restarts=max_restarts, max_logit=max_logit, max_seconds=max_seconds,
                     deduce=deduce and deduce.value, early_stop=False if no_early_stop else None)
    diagnose = diagnose or diagnose_only
    pairs = pairs or baseline is not None
    try:
        specs = expand_specs(names, fixed, grids)
        for spec in [] if diagnose_only else specs:
            run_config(spec, seed_list[0], protocol, overrides)
        if baseline is not None:  # the row it names, by position (tuning changes the labels, not the order)
            from ..paired import resolve_baseline

            labels = [spec.label for spec in specs]
            baseline_row = labels.index(resolve_baseline(baseline, labels, [spec.name for spec in specs]))
    except ValueError as exc:
        fail(str(exc))
    if max_seconds is not None and (tune is not None or diagnose):
        fail("--max-seconds bounds the comparison runs only; drop --tune/--diagnose to use it")
    if pairs and (diagnose_only or len(specs) < 2):
        fail("--pairs/--baseline need at least two compared rows")
    if diagnose_only and tune is not None:
        fail("--diagnose-only runs no comparison to tune; drop --tune (or use --diagnose)")
    if tune is not None:
        from ..tuning import OptunaMissing, import_optuna

        if grids:
            fail("--tune chooses the parameters itself; drop --grid (fix a parameter with --param)")
        if tune_lr and lr is not None:
            fail("--tune-lr tunes the learning rate; drop --lr")
        if not 0 < tune_fraction < 1:
            fail(f"--tune-fraction must lie strictly between 0 and 1, got {tune_fraction}")
        try:
            import_optuna()
        except OptunaMissing as exc:
            fail(str(exc))
    tune_seed_list = list(tune_seeds)
    checkpoint_list = _steps(checkpoints) if diagnose else []
    outputs = (() if diagnose_only else (".csv", ".json", ".png")) + (("-pairs.csv",) if pairs else ()) + \
        ((("-trials.csv", "-splits.csv", "-tuning.png")) if tune is not None else ()) + \
        (("-diagnostics.csv", "-diagnostics.json", "-diagnostics.png") if diagnose else ())
    opt.check_output("--out", out, [source], force, suffixes=outputs)
    where = opt.open_device(device)
    try:
        data = load_compare_input(source, colors, split, offset, limit, puzzle_column, solution_column or None,
                                  where)
        base = run_config(EstimatorSpec("st"), seed_list[0], protocol, overrides, data.defaults)  # for --diagnose
        parts = data.split(tune_fraction) if tune is not None else (data,)
    except (CompareInputError, ValueError) as exc:
        fail(str(exc))
    if deduce is not None and data.kind != "sudoku":
        fail(f"--deduce is Sudoku's pre-step; {source} is not Sudoku: drop it")
    if diagnose_only:
        _diagnose(data, specs, base.lr, base.samples, checkpoint_list, draws, diagnose_puzzles, out, quiet)
        return
    executor = open_executor(executor_name, address, num_workers)
    if chunk_size is None and executor.name == "ray":
        chunk_size = -(-max(len(p) for p in parts) // executor.workers)

    plan_runs = len(specs) * len(seed_list)
    tuning_note = (f"after tuning each on {len(parts[0])} of them ({tune} trials, {len(tune_seed_list)} seed(s)), "
                   if tune is not None else "")
    if not quiet:
        err_console.print(
            f"comparing {len(specs)} estimator spec(s) × {len(seed_list)} seed(s) = {plan_runs} runs on "
            f"{len(parts[-1])} puzzles {tuning_note}({protocol.value} protocol)", highlight=False)
        err_console.print(settings_line(base, protocol.value, specs, seed_list, tune_lr, where), highlight=False,
                          soft_wrap=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=quiet)
    quiet_bar = not quiet and not err_console.is_terminal  # a line per run where no bar shows
    with bar, sigterm_as_interrupt():
        trials_task = bar.add_task("trials", total=(tune or 0) * len(specs), visible=tune is not None)
        outer = bar.add_task("runs", total=plan_runs)
        inner = bar.add_task("steps", total=1, visible=executor.in_process)  # steps are seen only in-process

        def on_run(event) -> None:
            if event.run is None:
                bar.update(inner, description=f"{event.spec.label} seed {event.seed}", completed=0,
                           total=event.config.steps)
            else:
                bar.advance(outer)
                if quiet_bar:
                    run = event.run
                    note = run.error or f"{sum(r['found'] for r in run.records)}/{len(run.records)} found"
                    err_console.print(f"[{event.index + 1}/{event.total}] {event.spec.label} seed {event.seed}: "
                                      f"{note}, {run.seconds:.1f} s", highlight=False, soft_wrap=True)

        def on_trial(event) -> None:
            bar.advance(trials_task)
            if quiet_bar:
                t = event.trial
                result = t.error or f"{criterion} {t.rate:.1f}%, loss {t.loss:.2f}"
                err_console.print(f"tune {event.estimator} [{event.done}/{event.total}] {t.params}: {result}"
                                  + (f" (= trial {t.repeat_of})" if t.repeat_of is not None else ""),
                                  highlight=False, soft_wrap=True)

        def on_step(p) -> None:
            bar.update(inner, completed=p.step, total=p.steps)

        try:
            if tune is None:
                result = compare(data.problem, data.make_records, specs, seed_list, protocol, overrides,
                                 puzzle_ids=data.ids, on_run=on_run, on_step=on_step, executor=executor,
                                 chunk_size=chunk_size, defaults=data.defaults)
            else:
                from ..tuning import TuneSettings, TuningInterrupted, tune_and_compare

                settings = TuneSettings(tune, criterion, protocol, overrides, tuple(tune_seed_list), tune_lr,
                                        storage=tune_storage)

                result = tune_and_compare(data, specs, seed_list, settings, tune_fraction, executor, chunk_size,
                                          on_trial=on_trial, on_run=on_run, on_step=on_step)
        except KeyboardInterrupt as interrupt:
            err_console.print("interrupted")
            if tune is not None and isinstance(interrupt, TuningInterrupted) and out:
                _write_trials(interrupt, out)
            raise typer.Exit(130) from None
        finally:
            executor.close()
    result.settings = dict(source=source, split=split, offset=offset, limit=limit, seeds=seed_list)
    if tune is not None:
        result.settings.update(tune=tune, tune_fraction=tune_fraction, tune_lr=tune_lr, tune_seeds=tune_seed_list,
                               criterion=criterion)
    config = result.rows[0].config
    title = (f"{protocol.value} protocol · {len(result.puzzle_ids)} puzzles · seeds {','.join(map(str, seed_list))} · "
             f"{config['steps']} steps, {config['samples']} sample(s), {config['restarts']} restart(s), "
             + ("lr tuned" if tune_lr else f"lr {config['lr']}")
             + f", early stop {'on' if config['early_stop'] else 'off'}"
             + (f" · tuned on {len(result.splits['tune'])} other puzzles, {tune} trials by {criterion}"
                if tune is not None else ""))
    if not quiet:
        console.print(render_table(result.rows, title, show_lr=tune_lr))
    if pairs:
        report = result.add_pairs(None if baseline is None else result.rows[baseline_row].label, bootstrap)
        if not quiet:
            console.print()
            console.print(render_pairs(report))
    if out:
        try:
            from ..compare import write_outputs

            paths = write_outputs(result, out)
            if tune is not None:
                from ..tuning import write_tuning

                paths += write_tuning(result.tuning, result.splits, out)
        except OSError as exc:
            fail(f"cannot write {out}.*: {exc}")
        if not quiet:
            err_console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)
    if diagnose:
        specs = [EstimatorSpec(row.estimator, tuple(row.params.items())) for row in result.rows]
        _diagnose(parts[-1], specs, base.lr, base.samples, checkpoint_list, draws, diagnose_puzzles, out, quiet)


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
            raise typer.Exit(130) from None
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
