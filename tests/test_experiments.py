"""The paper's other experiments: exact pieces against direct computations, tiny runs that must learn, the CLI."""

from __future__ import annotations

import csv
import itertools
import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.data import SourceError
from redge_solve.experiments import gmm, poly, vae
from redge_solve.experiments.runner import Bench, RunResult, build_specs, run_bench, summarise, write_outputs

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is faster, and far faster on a busy machine (no spinning OpenMP workers)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def one_hot_configurations(length: int, categories: int) -> torch.Tensor:
    """Every one-hot matrix ``(K^L, L, K)``."""
    rows = list(itertools.product(range(categories), repeat=length))
    return torch.nn.functional.one_hot(torch.tensor(rows), categories).double()


def probability(configs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """π_θ(X) = Π_l p_l(X_l) for every configuration."""
    return (configs * logits.softmax(-1)).sum(-1).prod(-1)


# ---- polynomial programming ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("power", [1.5, 2.0, 3.0])
def test_poly_expectation_equals_enumeration(power):
    logits = torch.randn(3, 3, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    configs = one_hot_configurations(3, 3)
    direct = sum(float(w) * sum(abs(int(x.argmax()) - 0.45) ** power for x in config) / 3
                 for config, w in zip(configs, probability(configs, logits), strict=True))
    assert float(poly.expected_loss(logits, 0.45, power)) == pytest.approx(direct, rel=1e-12)
    by_objective = float((probability(configs, logits) * poly.poly_objective(configs, 0.45, power)).sum())
    assert by_objective == pytest.approx(direct, rel=1e-12)
    assert poly.optimum(2, 0.45, power) == pytest.approx(0.45**power)


@pytest.mark.parametrize("name", ["st", "reinmax", "redge"])
def test_poly_tiny_run_learns(name):
    config = poly.PolyConfig(length=8, samples=32, steps=80)
    result = poly.run_poly(2.0, build_specs([name], poly.PAPER_PARAMS)[0], 0, config)
    gaps = [v for _, v in result.curves["gap"]]
    assert len(gaps) == 80 and all(math.isfinite(v) and v >= -1e-7 for v in gaps)
    assert gaps[-1] < gaps[0]
    assert result.final["gap"] == pytest.approx(result.final["expected"] - 0.45**2)


# ---- GMM ----------------------------------------------------------------------------------------------------------

def direct_nelbo(logits, means, y, sigma, sigma_y):
    """−Σ_z q(z)[log p(y|z,μ) + log p(z) − log q(z)] − log p(μ), with torch.distributions, by enumeration."""
    n, k = logits.shape
    configs = one_hot_configurations(n, k)
    q = probability(configs, logits)
    obs = torch.distributions.Normal(configs @ means, sigma_y)  # (C, N, D)
    log_lik = obs.log_prob(y).sum((-1, -2))
    log_prior_z = n * math.log(1 / k)
    log_q = torch.log(q)
    log_prior_mu = torch.distributions.Normal(torch.zeros((), dtype=means.dtype), sigma).log_prob(means).sum()
    return -(q * (log_lik + log_prior_z - log_q)).sum() - log_prior_mu


def test_gmm_nelbo_equals_direct_computation():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 2, dtype=torch.double, generator=g)
    means = 4 * torch.randn(2, 2, dtype=torch.double, generator=g)
    y = 3 * torch.randn(3, 2, dtype=torch.double, generator=g)
    direct = direct_nelbo(logits, means, y, sigma=15.0, sigma_y=2.0)
    assert float(gmm.nelbo(logits, means, y, 15.0, 2.0)) == pytest.approx(float(direct), rel=1e-12)
    # the sampled term's expectation plus the exact terms is the same number
    configs = one_hot_configurations(3, 2)
    sampled = (probability(configs, logits) * gmm.likelihood_term(configs, means, y, 2.0)).sum()
    assert float(sampled + gmm.exact_terms(logits, means, 15.0)) == pytest.approx(float(direct), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_hungarian_matches_brute_force(k, seed):
    cost = torch.rand(k, k, generator=torch.Generator().manual_seed(seed))
    perm = gmm.assignment(cost)
    assert sorted(perm) == list(range(k))
    best = min(sum(float(cost[i, p[i]]) for i in range(k)) for p in itertools.permutations(range(k)))
    assert sum(float(cost[i, perm[i]]) for i in range(k)) == pytest.approx(best)


def test_clustering_accuracy_ignores_labels():
    true = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    relabelled = torch.tensor([2, 2, 0, 0, 1, 1, 1])
    assert gmm.clustering_accuracy(relabelled, true, 3) == 1.0
    assert gmm.clustering_accuracy(torch.tensor([2, 2, 0, 0, 1, 1, 0]), true, 3) == pytest.approx(6 / 7)


def test_gmm_tiny_run_learns():
    config = gmm.GMMConfig(components=3, observations=40, steps=150, lr=0.05)
    data = gmm.sample_gmm(config)
    assert data.y.shape == (40, 2) and data.mu.shape == (3, 2)
    result = gmm.run_gmm(build_specs(["redge"], gmm.PAPER_PARAMS)[0], 0, config, data)
    curve = [v for _, v in result.curves["nelbo"]]
    assert all(math.isfinite(v) for v in curve) and curve[-1] < curve[0]
    assert 0 <= result.final["accuracy"] <= 1


# ---- VAE ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return vae.load_images(str(vae.DIGITS))


def test_digits_load_through_datasets(digits):
    assert digits.shape == (8, 8)
    assert digits.train.shape == (1437, 64) and digits.test.shape == (360, 64)
    assert set(torch.unique(digits.train).tolist()) == {0.0, 1.0}


def test_vae_loss_terms_equal_torch_distributions():
    torch.manual_seed(0)
    model = vae.VAE(pixels=6, latents=2, categories=3)
    x = torch.bernoulli(torch.full((4, 6), 0.4))
    logits = model.encode(x)
    q = torch.distributions.Categorical(logits=logits)
    uniform = torch.distributions.Categorical(logits=torch.zeros_like(logits))
    kl = torch.distributions.kl_divergence(q, uniform).sum(-1)
    assert torch.allclose(vae.kl_uniform(logits), kl, atol=1e-6)
    z = torch.nn.functional.one_hot(torch.tensor([[0, 2]] * 4), 3).float()
    direct = -torch.distributions.Bernoulli(logits=model.decoder(z.flatten(-2))).log_prob(x).sum(-1)
    assert torch.allclose(model.reconstruction(z, x), direct, atol=1e-5)


def test_vae_tiny_run_learns(digits):
    config = vae.VAEConfig(latents=4, categories=3, batch_size=100, steps=40, eval_every=20, lr=2e-3)
    small = vae.Images(digits.train[:400], digits.test[:100], digits.shape)
    result = vae.run_vae(build_specs(["redge-cov"], vae.PAPER_PARAMS)[0], 0, config, small)
    evals = [v for _, v in result.curves["test_nelbo"]]
    assert [s for s, _ in result.curves["test_nelbo"]] == [0, 20, 40]
    assert all(math.isfinite(v) for v in evals) and evals[-1] < evals[0] - 5
    assert result.final["test_nelbo"] == evals[-1]


def test_hub_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match="--data"):  # one line pointing at --data, not a traceback or a hang
        vae.load_images("hf:no-such-owner/no-such-mnist")


def test_missing_local_dataset_is_one_line(tmp_path):
    with pytest.raises(SourceError, match="no such dataset"):
        vae.load_images(str(tmp_path / "nothing"))


# ---- runner -------------------------------------------------------------------------------------------------------

def test_build_specs_puts_user_params_over_paper_defaults():
    specs = build_specs(["redge", "gumbel", "st"], poly.PAPER_PARAMS, {"redge.n_steps": "4"})
    assert [s.label for s in specs] == ["redge(n_steps=4, t_1=0.1)", "gumbel(tau=0.02)", "st"]
    with pytest.raises(ValueError, match="no parameter"):
        build_specs(["st"], {}, {"st.tau": "1"})


def fake_run(setting, spec, seed, on_step):
    return RunResult({"loss": [(1, 2.0 + seed), (2, 1.0 + seed)]}, {"loss": 1.0 + seed})


def test_summary_is_mean_and_population_std_over_seeds():
    bench = run_bench("fake", ["a"], build_specs(["st"], {}), [0, 2], fake_run, {}, "loss")
    (row,) = bench.rows
    assert row.mean["loss"] == 2.0 and row.std["loss"] == 1.0 and row.seeds == [0, 2]


def test_interrupt_keeps_finished_runs():
    def run_one(setting, spec, seed, on_step):
        if seed == 1:
            raise KeyboardInterrupt
        return fake_run(setting, spec, seed, on_step)

    bench = run_bench("fake", ["a"], build_specs(["st"], {}), [0, 1, 2], run_one, {}, "loss")
    assert bench.interrupted and [run.seed for run in bench.runs] == [0]
    assert summarise(bench.runs)[0].mean["loss"] == 1.0


def test_write_outputs(tmp_path):
    bench = run_bench("fake", ["a", "b"], build_specs(["st", "redge"], {}), [0, 1], fake_run, {"x": 1}, "loss")
    assert isinstance(bench, Bench)
    paths = write_outputs(bench, tmp_path / "sub" / "out")
    assert [p.name for p in paths] == ["out.csv", "out-curves.csv", "out.json", "out.png"]
    rows = list(csv.DictReader(open(paths[0])))
    assert len(rows) == 4 and rows[0]["loss_mean"] == "1.5"
    assert len(list(csv.DictReader(open(paths[1])))) == 2 * 2 * 2 * 2
    data = json.loads(paths[2].read_text())
    assert data["config"] == {"x": 1} and len(data["runs"]) == 8
    assert paths[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- command line -------------------------------------------------------------------------------------------------

def test_cli_poly_end_to_end(tmp_path):
    result = runner.invoke(app, ["bench", "poly", "--steps", "30", "--length", "6", "--samples", "8", "--seeds", "2",
                                 "--powers", "2,3", "-e", "st,reinmax", "-q",
                                 "--out", str(tmp_path / "poly")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "poly.csv")))
    assert [(r["setting"], r["estimator"]) for r in rows] == [("p=2", "st"), ("p=2", "reinmax"),
                                                              ("p=3", "st"), ("p=3", "reinmax")]
    assert all(math.isfinite(float(r["gap_mean"])) for r in rows)
    assert (tmp_path / "poly.png").exists() and (tmp_path / "poly-curves.csv").exists()


def test_cli_gmm_and_vae_end_to_end(tmp_path):
    result = runner.invoke(app, ["bench", "gmm", "--steps", "20", "--components", "3", "--observations", "20",
                                 "--seeds", "1", "-e", "redge-max", "-q", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "g.json").read_text())["summary"][0]["label"] == "redge-max"
    result = runner.invoke(app, ["bench", "vae", "--data", "digits", "--kinds", "bernoulli", "--bits", "4",
                                 "--steps", "3", "--eval-every", "2", "--seeds", "1", "-e", "gumbel",
                                 "-q", "--out", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(open(tmp_path / "v.csv")))
    assert row["setting"] == "bernoulli 4x2" and math.isfinite(float(row["test_nelbo_mean"]))


@pytest.mark.parametrize("args, message", [
    (["poly", "--powers", "two"], "--powers"),
    (["poly", "--steps", "0"], "steps"),
    (["poly", "-e", "nope"], "unknown estimator"),
    (["poly", "--param", "redge.bogus=1"], "bogus"),
    (["poly", "--seeds", "0"], "--seeds"),
    (["gmm", "-e", "reinforce"], "reinforce"),
    (["gmm", "--sigma", "-1"], "sigma"),
    (["vae", "--kinds", "gaussian"], "--kinds"),
    (["vae", "--data", "/no/such/dir", "--steps", "1"], "no such dataset"),
])
def test_cli_bad_input_exits_2_with_one_line(args, message):
    result = runner.invoke(app, ["bench", *args, "-q"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# ---- device -------------------------------------------------------------------------------------------------------

META = torch.device("meta")


@pytest.fixture
def host_reads(monkeypatch):
    """Runs on the meta device (shapes, no data): the host reads of a loss (``float``, ``.item()``) give 1.0 and
    record the device read from, so a run goes to its end and a test sees where its values were computed."""
    devices: list[torch.device] = []
    to_float, item = torch.Tensor.__float__, torch.Tensor.item

    def read(real):
        def patched(self):
            devices.append(self.device)
            return 1.0 if self.device.type == "meta" else real(self)
        return patched

    monkeypatch.setattr(torch.Tensor, "__float__", read(to_float))
    monkeypatch.setattr(torch.Tensor, "item", read(item))
    return devices


@pytest.mark.parametrize("name", ["st", "gumbel", "redge-cov", "reinforce"])
def test_experiments_compute_on_the_device_they_are_given(name, host_reads, monkeypatch):
    """Every loss each experiment reads was computed on the device passed (meta stands in for CUDA: a tensor left
    on the CPU beside it is a device-mismatch error, as it would be on a GPU)."""
    (spec,) = build_specs([name], {}, {})
    poly.run_poly(2.0, spec, 0, poly.PolyConfig(length=4, samples=3, steps=2), device=META)

    monkeypatch.setattr(gmm, "clustering_accuracy", lambda predicted, true, k: float(predicted.device == META))
    run = gmm.run_gmm(spec, 0, gmm.GMMConfig(components=3, observations=10, samples=2, steps=2), device=META)
    assert run.final["accuracy"] == 1.0

    def held_out(model, images):
        assert images.device == META and {p.device for p in model.parameters()} == {META}
        return 0.0

    monkeypatch.setattr(vae, "test_nelbo", held_out)
    images = vae.Images(torch.rand(30, 16).round(), torch.rand(10, 16).round(), (4, 4))
    vae.run_vae(spec, 0, vae.VAEConfig(latents=2, categories=3, batch_size=8, samples=2, steps=2, eval_every=1),
                images, device=META)
    # the losses read: poly 2 per step (sample loss, exact gap), gmm 2 (loss, exact NELBO), vae 1; Adam reads its
    # step counts, which stay on the CPU
    assert host_reads.count(META) == 2 * 2 + 2 * 2 + 2


@pytest.mark.parametrize("args", [
    ["poly", "--steps", "5", "--length", "6", "--samples", "8", "--seeds", "1", "--powers", "2", "-e", "st,redge"],
    ["gmm", "--steps", "5", "--components", "3", "--observations", "20", "--seeds", "1", "-e", "gumbel"],
    ["vae", "--data", "digits", "--kinds", "bernoulli", "--bits", "4", "--steps", "3", "--eval-every", "2",
     "--seeds", "1", "-e", "redge-cov"],
], ids=lambda a: a[0])
def test_cli_device_cpu_gives_the_results_of_the_default(args, tmp_path):
    """``--device cpu`` and no ``--device`` (auto: the CPU here) write the same JSON, times aside."""
    if torch.cuda.is_available():
        pytest.skip("auto is CUDA here")
    records = []
    for extra in ([], ["--device", "cpu"]):
        out = tmp_path / f"run{len(records)}"
        result = runner.invoke(app, ["bench", *args, "-q", "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        data = json.loads(out.with_suffix(".json").read_text())
        records.append(json.dumps(data, sort_keys=True, default=str))
    strip = [json.loads(r) for r in records]
    for data in strip:
        for run in data["runs"]:
            run.pop("seconds", None)
        for row in data["summary"]:
            row.pop("seconds", None)
    assert strip[0] == strip[1]
