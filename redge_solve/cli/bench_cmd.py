"""``redge-solve bench poly|gmm|vae``: the paper's other experiments, every estimator × seeds → a table, and with
``--out PREFIX`` the files PREFIX.csv, PREFIX-curves.csv, PREFIX.json and PREFIX.png. Only wires
``redge_solve.experiments``."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Optional

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import options as opt
from .app import app
from .common import ExitCode, console, err_console, fail, parse_assignments, sigterm_as_interrupt

bench_app = typer.Typer(help="The paper's other experiments: polynomial programming, GMM inference, VAEs.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")

ParamOpt = Annotated[Optional[list[str]], typer.Option(
    "--param", "-p", callback=opt.assignments,
    help="ESTIMATOR.PARAM=VALUE or PARAM=VALUE (repeatable); on top of the experiment's defaults.")]
OutOpt = Annotated[Optional[str], typer.Option(
    "--out", "-o", metavar="PREFIX", callback=opt.output_directory,
    help="Write PREFIX.csv, PREFIX-curves.csv, PREFIX.json and PREFIX.png.")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", help="torch threads (default: the global --threads, else as many as cores are free).")]
LogEveryOpt = Annotated[int, typer.Option("--log-every", help="Keep every N-th step in the curves.")]


SHARED = (("estimators", opt.Estimators, opt.DEFAULT_ESTIMATORS), ("seeds", opt.Seeds, "3"), ("param", ParamOpt, None),
          ("log_every", LogEveryOpt, 1), ("threads", ThreadsOpt, None), ("out", OutOpt, None),
          ("force", opt.Force, False), ("max_seconds", opt.MaxSeconds, None), ("device", opt.DeviceOption, "auto"),
          ("quiet", opt.Quiet, False))
"""The options every experiment shares (read from ``ctx.params``)."""


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{what} must be comma-separated numbers, got {text!r}")
    if not values or len(set(values)) != len(values):
        fail(f"{what} must list distinct numbers, got {text!r}")
    return values


def _setup(ctx: typer.Context, defaults: dict, samples: int,
           inputs: tuple[str, ...] = ()) -> tuple[list, list[int], Any]:
    """Validated specs, seeds, device and output files (the ``SHARED`` options), or a one-line error and exit 2."""
    from ..experiments.runner import OUTPUT_SUFFIXES, build_specs

    estimators, seeds, param, threads, out, force, device = (ctx.params[k] for k in (
        "estimators", "seeds", "param", "threads", "out", "force", "device"))
    torch_device = opt.open_device(device)  # cuda without a GPU: one line, exit 2
    opt.check_output_or_exit("out", out, inputs, force, suffixes=OUTPUT_SUFFIXES)
    seed_list = list(seeds)
    names = [n.strip() for n in estimators.split(",") if n.strip()]
    try:
        specs = build_specs(names, defaults, parse_assignments(param or [], "--param"))
    except ValueError as exc:
        fail(str(exc))
    if samples < 2 and any(spec.name == "reinforce" for spec in specs):
        fail(f"reinforce needs at least 2 samples per step; pass --samples 2 (or more), got {samples}")
    if threads is not None:
        if threads < 1:
            fail(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    return specs, seed_list, torch_device


def _config(factory: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return factory(**kwargs)
    except ValueError as exc:
        fail(f"bad option: {exc}")


def _execute(ctx: typer.Context, experiment: str, settings: list[str], specs: list, seed_list: list[int],
             run_one: Callable, config: dict, primary: str, metrics: list[tuple[str, str, int]], ylabel: str,
             log_y: bool = False, notes: dict[str, str] | None = None) -> None:
    """Run the grid with progress bars, print the table, write the files; Ctrl-C or SIGTERM stop the grid, keep the
    finished runs in the table and files, and exit 130."""
    out, quiet, max_seconds = ctx.params["out"], ctx.params["quiet"], ctx.params["max_seconds"]
    from ..experiments.runner import run_bench, write_outputs

    total = len(settings) * len(specs) * len(seed_list)
    say = (lambda *a, **k: None) if quiet else err_console.print
    say(f"{experiment}: {len(settings)} setting(s) × {len(specs)} estimator(s) × {len(seed_list)} "
                      f"seed(s) = {total} runs", highlight=False)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err_console, transient=True,
                   disable=quiet)
    with bar:
        outer = bar.add_task("runs", total=total, info="")
        inner = bar.add_task("steps", total=1, info="")

        def on_run(index, count, setting, spec, seed, run) -> None:
            if run is None:
                bar.update(inner, description=f"{setting} {spec.label} seed {seed}".strip(), completed=0)
                return
            bar.advance(outer)
            if not quiet and not err_console.is_terminal:  # a line per run where no bar shows
                final = ", ".join(f"{k} {v:.4g}" for k, v in run.result.final.items())
                err_console.print(f"[{index + 1}/{count}] {setting} {spec.label} seed {seed}: {final}, "
                                  f"{run.result.seconds:.1f} s", highlight=False, soft_wrap=True)

        def on_step(step: int, steps: int, value: float) -> None:
            if step == steps or step % max(1, steps // 200) == 0:
                bar.update(inner, completed=step, total=steps, info=f"loss {value:.4g}")

        with sigterm_as_interrupt():
            bench = run_bench(experiment, settings, specs, seed_list, run_one, config, primary, on_run=on_run,
                              on_step=None if quiet else on_step, notes=notes, max_seconds=max_seconds)
    # no vertical rules and mean±std without spaces, so the table reads at 80 columns and in a pipe: only the
    # labels fold, never a number
    table = Table(title=f"{experiment} · " + ", ".join(f"{k} {v}" for k, v in config.items() if k != "settings"),
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("setting", overflow="fold")
    table.add_column("estimator", style="bold cyan", overflow="fold")
    for _, header, _ in metrics:
        table.add_column(escape(header), justify="right", no_wrap=True)
    table.add_column("s/run", justify="right", no_wrap=True)
    for row in bench.rows:
        table.add_row(escape(row.setting), escape(row.label),
                      *[f"{row.mean[key]:.{digits}f}±{row.std[key]:.{digits}f}" for key, _, digits in metrics],
                      f"{row.seconds:.1f}")
    if not quiet:
        console.print(table)
    if out and bench.runs:
        try:
            paths = write_outputs(bench, out, ylabel=ylabel, log_y=log_y)
        except OSError as exc:
            fail(f"cannot write {out}.*: {exc}")
        say("wrote " + ", ".join(str(p) for p in paths), highlight=False)
    if bench.budget_spent:
        err_console.print(f"time budget of {max_seconds:g} s spent after {len(bench.runs)}/{total} runs; the files "
                          "hold the finished ones", highlight=False)
        raise typer.Exit(ExitCode.SOME_UNSOLVED)
    if bench.interrupted:
        err_console.print(f"interrupted after {len(bench.runs)}/{total} runs; the files hold the finished ones")
        raise typer.Exit(ExitCode.INTERRUPTED)


@bench_app.command("poly")
@opt.with_options(SHARED)
def poly_command(
    ctx: typer.Context,
    powers: str = typer.Option("1.5,2,3", "--powers", help="Exponents p of f = mean |x − t|^p (comma-separated)."),
    length: int = typer.Option(128, "--length", help="Number of categorical variables L."),
    categories: int = typer.Option(2, "--categories", help="Categories per variable (values 0..K-1)."),
    target: float = typer.Option(0.45, "--target", help="Target t."),
    samples: int = typer.Option(256, "--samples", help="Samples per step (the paper's batch size)."),
    lr: float = typer.Option(0.05, "--lr", help="Adam learning rate."),
    steps: int = typer.Option(1000, "--steps", help="Optimisation steps per run."),
) -> None:
    """Polynomial programming (paper §4.1): minimise E[(1/L) Σ_l |x_l − t|^p] over mean-field logits."""
    from ..experiments.poly import PAPER_PARAMS, PolyConfig, run_poly

    power_list = _floats(powers, "--powers")
    if any(not p > 0 for p in power_list):
        fail(f"--powers must be > 0, got {powers!r}")
    specs, seed_list, device = _setup(ctx, PAPER_PARAMS, samples)
    config = _config(PolyConfig, length=length, categories=categories, target=target, samples=samples, lr=lr,
                     steps=steps, log_every=ctx.params["log_every"])
    by_setting = {f"p={p:g}": p for p in power_list}

    def run_one(setting, spec, seed, on_step):
        return run_poly(by_setting[setting], spec, seed, config, on_step, device=device)

    _execute(ctx, "poly", list(by_setting), specs, seed_list, run_one, config.to_json(), "gap",
             [("expected", "E[f] final", 4), ("gap", "gap to optimum", 4), ("loss_last100", "loss last 100", 4)],
             "exact E[f] − optimum", log_y=True,
             notes={"expected": "exact E[f] at the last step", "gap": "expected - min_k |k - t|^p",
                    "loss_last100": "sample loss (mean over the step's samples) averaged over the last 100 steps"})


@bench_app.command("gmm")
@opt.with_options(SHARED)
def gmm_command(
    ctx: typer.Context,
    dim: int = typer.Option(2, "--dim", help="Dimension D."),
    components: int = typer.Option(20, "--components", help="Mixture components K."),
    sigma: float = typer.Option(15.0, "--sigma", help="Prior std of the means."),
    sigma_y: float = typer.Option(2.0, "--sigma-y", help="Observation noise std."),
    observations: int = typer.Option(500, "--observations", help="Observations N."),
    samples: int = typer.Option(1, "--samples", help="Samples per step."),
    lr: float = typer.Option(0.01, "--lr", help="Adam learning rate."),
    steps: int = typer.Option(3000, "--steps", help="Optimisation steps per run."),
    data_seed: int = typer.Option(0, "--data-seed", help="Seed of the simulated data (the same for every run)."),
) -> None:
    """GMM variational inference (paper §4.2): mean-field assignments + MAP means, exact negative ELBO curves."""
    from ..experiments.gmm import PAPER_PARAMS, GMMConfig, run_gmm, sample_gmm

    specs, seed_list, device = _setup(ctx, PAPER_PARAMS, samples)
    config = _config(GMMConfig, dim=dim, components=components, sigma=sigma, sigma_y=sigma_y,
                     observations=observations, samples=samples, lr=lr, steps=steps, data_seed=data_seed,
                     log_every=ctx.params["log_every"])
    data = sample_gmm(config)

    def run_one(setting, spec, seed, on_step):
        return run_gmm(spec, seed, config, data, on_step, device=device)

    _execute(ctx, "gmm", [""], specs, seed_list, run_one, config.to_json(), "nelbo",
             [("nelbo", "NELBO (last 100)", 1), ("accuracy", "clustering acc.", 3)],
             "negative ELBO (exact)", log_y=True,
             notes={"nelbo": "exact negative ELBO (sum over the N observations) averaged over the last 100 steps",
                    "accuracy": "argmax assignments vs true clusters after the best one-to-one relabelling"})


@bench_app.command("vae")
@opt.with_options(SHARED)
def vae_command(
    ctx: typer.Context,
    data: str = typer.Option("hf:ylecun/mnist", "--data",
                             help="hf:OWNER/NAME or a local dataset directory with train/test splits "
                                  "(columns image, label); 'digits' = the shipped 8×8 digits."),
    kinds: str = typer.Option("categorical,bernoulli", "--kinds", help="categorical and/or bernoulli."),
    latents: int = typer.Option(16, "--latents", help="Categorical VAE: latent variables L."),
    categories: int = typer.Option(12, "--categories", help="Categorical VAE: categories K."),
    bits: int = typer.Option(48, "--bits", help="Bernoulli VAE: latent bits (K = 2)."),
    batch_size: int = typer.Option(200, "--batch-size", help="Images per step."),
    samples: int = typer.Option(1, "--samples", help="Latent samples per image per step."),
    lr: float = typer.Option(5e-4, "--lr", help="Adam learning rate."),
    steps: int = typer.Option(10000, "--steps", help="Optimisation steps per run."),
    eval_every: int = typer.Option(500, "--eval-every", help="Held-out negative ELBO every N steps."),
) -> None:
    """Categorical and Bernoulli VAEs (paper §4.4) on binarised images: held-out negative ELBO per estimator."""
    from ..data import SourceError
    from ..experiments.vae import DIGITS, PAPER_PARAMS, VAEConfig, load_images, run_vae

    kind_list = [k.strip().lower() for k in kinds.split(",") if k.strip()]
    bad = [k for k in kind_list if k not in ("categorical", "bernoulli")]
    if not kind_list or bad or len(set(kind_list)) != len(kind_list):
        fail(f"--kinds must list categorical and/or bernoulli, got {kinds!r}")
    source = str(DIGITS) if data == "digits" else data
    specs, seed_list, device = _setup(ctx, PAPER_PARAMS, samples, (source,))
    common = dict(batch_size=batch_size, samples=samples, lr=lr, steps=steps, eval_every=eval_every,
                  log_every=ctx.params["log_every"])
    configs = {}
    for kind in kind_list:
        shape = (latents, categories) if kind == "categorical" else (bits, 2)
        configs[f"{kind} {shape[0]}x{shape[1]}"] = _config(VAEConfig, latents=shape[0], categories=shape[1],
                                                            **common)
    say = (lambda *a, **k: None) if ctx.params["quiet"] else err_console.print
    say(f"loading {data} …", highlight=False)
    try:
        images = load_images(source)
    except SourceError as exc:
        fail(str(exc))
    say(f"{len(images.train)} training and {len(images.test)} held-out images of "
                      f"{images.shape[0]}×{images.shape[1]} pixels", highlight=False)

    def run_one(setting, spec, seed, on_step):
        return run_vae(spec, seed, configs[setting], images, on_step, device=device)

    config = {"data": data, "pixels": images.train.shape[1], "train_images": len(images.train),
              "test_images": len(images.test), **common,
              "settings": {k: v.to_json() for k, v in configs.items()}}
    _execute(ctx, "vae", list(configs), specs, seed_list, run_one, config, "test_nelbo",
             [("test_nelbo", "held-out NELBO", 2), ("train_last100", "train loss last 100", 2)],
             "held-out negative ELBO (nats per image)",
             notes={"test_nelbo": "negative ELBO per held-out image at the last step (one exact z ~ q per image)",
                    "train_last100": "training objective per image, averaged over the last 100 steps"})
