"""Categorical and Bernoulli VAEs on binarised images (the paper's section 4.4; setup of Liu et al. 2023, ReinMax).

Data: binarised greyscale images x ∈ {0,1}^P (pixel/255 > ½), MNIST from the Hub (``ylecun/mnist``, P = 784)
through ``datasets.load_dataset``; any local dataset with the same schema (``image``, ``label``; ``train`` and
``test`` splits) goes through the same call, e.g. the shipped 8×8 digits (``data/digits8x8``, P = 64).

Model: L latent categorical variables with K categories (Bernoulli: K = 2), prior uniform Cat(1/K) per variable,
encoder q_φ(z|x) = Π_l Cat(z_l; softmax(e_φ(x)_l)) with an MLP P → 512 → 256 → L·K, decoder p_ψ(x|z) = Π_j
Bernoulli(x_j; sigmoid(d_ψ(z)_j)) with an MLP L·K → 256 → 512 → P (LeakyReLU). Loss per image, minimised with
Adam (lr 5e-4, batch 200):

    NELBO(x) = E_{z~q}[ −log p_ψ(x | z) ] + KL(q_φ(·|x) || Cat(1/K)^L)
             = E_{z~q}[ Σ_j BCE(d_ψ(z)_j, x_j) ] + Σ_l Σ_k q_lk log(K q_lk)

The reconstruction term is estimated by the estimator under test (``S`` samples per image, default 1), the KL term
is exact. Curves: ``loss`` (the training objective of each step, per image) and ``test_nelbo`` (the negative ELBO
on the held-out split, every ``eval_every`` steps, the reconstruction term estimated with one exact sample
z ~ q per image drawn from a fixed generator, so every estimator is judged on the same noise). Finals:
``test_nelbo`` at the last step and ``train_last100``, the logged training loss averaged over the last 100 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..compare import EstimatorSpec
from ..data import SourceError
from .runner import ExperimentConfig, OnStep, RunResult, estimator

MNIST = "hf:ylecun/mnist"
DIGITS = Path(__file__).parent / "data" / "digits8x8"
PAPER_PARAMS: dict[str, dict[str, float]] = {}
"""The VAE experiment uses every estimator's package defaults."""


@dataclass(frozen=True)
class VAEConfig(ExperimentConfig):
    latents: int = 16
    categories: int = 12
    batch_size: int = 200
    samples: int = 1
    lr: float = 5e-4
    steps: int = 2000
    eval_every: int = 100
    log_every: int = 1

    counts = ("latents", "batch_size", "samples", "steps", "eval_every", "log_every")
    positive = ("lr",)


@dataclass(frozen=True)
class Images:
    """Binarised images, flattened: ``train`` ``(N, P)`` and ``test`` ``(M, P)`` float 0/1; ``shape`` = (H, W)."""

    train: Tensor
    test: Tensor
    shape: tuple[int, int]


def binarise(images: Tensor) -> Tensor:
    """uint8 greyscale ``(N, H, W)`` -> float ``(N, H·W)`` with 1 where pixel/255 > ½."""
    return (images.reshape(images.shape[0], -1).float() / 255.0 > 0.5).float()


def load_images(source: str = MNIST) -> Images:
    """``hf:OWNER/NAME`` from the Hub or a local dataset directory (``train``/``test`` parquet, MNIST's schema).

    Both go through ``datasets.load_dataset``. Offline, a hub name fails within a few seconds (a cached copy still
    loads). Raises ``SourceError`` with a one-line message.
    """
    import datasets

    from ..data import _one_line, _quiet_hub_logging, offline_unless_reachable

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    _quiet_hub_logging()
    hub = source.startswith("hf:")
    name = source[3:] if hub else source
    if hub and not name.strip("/"):
        raise SourceError("hf: needs a dataset name, e.g. hf:ylecun/mnist")
    if not hub and not Path(name).exists():
        raise SourceError(f"no such dataset directory or file: {source}")
    try:
        if hub:
            offline_unless_reachable(datasets)
        splits = datasets.load_dataset(name)
    except (ConnectionError, OSError) as exc:
        if hub:
            raise SourceError(f"cannot reach the Hugging Face Hub for {source!r} and it is not in the local cache "
                              "(offline?); pass --data DIR with a local copy (train/test parquet, columns image, "
                              "label)") from None
        raise SourceError(f"cannot read {source}: {_one_line(exc)}") from None
    except Exception as exc:  # datasets raises many types (DatasetNotFoundError, ValueError, ...)
        raise SourceError(f"cannot load {source!r}: {_one_line(exc)}") from None
    missing = [s for s in ("train", "test") if s not in splits]
    if missing:
        raise SourceError(f"{source} needs train and test splits; it has {', '.join(splits) or 'none'}")
    arrays = []
    for split in ("train", "test"):
        if "image" not in splits[split].column_names:
            raise SourceError(f"{source} split {split!r} has no 'image' column "
                              f"(columns: {', '.join(splits[split].column_names)})")
        try:
            pixels = torch.as_tensor(splits[split].with_format("numpy")[:]["image"])
        except Exception as exc:
            raise SourceError(f"cannot decode the images of {source} split {split!r}: {_one_line(exc)}") from None
        if pixels.ndim != 3 or len(pixels) == 0:
            raise SourceError(f"{source} split {split!r}: expected greyscale images (N, H, W), "
                              f"got {tuple(pixels.shape)}")
        arrays.append(pixels)
    train, test = arrays
    if train.shape[1:] != test.shape[1:]:
        raise SourceError(f"{source}: train and test images differ in size ({tuple(train.shape[1:])} vs "
                          f"{tuple(test.shape[1:])})")
    return Images(binarise(train), binarise(test), (int(train.shape[1]), int(train.shape[2])))


class VAE(nn.Module):
    """Encoder P → 512 → 256 → L·K logits; decoder L·K → 256 → 512 → P pixel logits (LeakyReLU)."""

    def __init__(self, pixels: int, latents: int, categories: int) -> None:
        super().__init__()
        self.latents, self.categories = latents, categories
        width = latents * categories
        self.encoder = nn.Sequential(nn.Linear(pixels, 512), nn.LeakyReLU(), nn.Linear(512, 256), nn.LeakyReLU(),
                                     nn.Linear(256, width))
        self.decoder = nn.Sequential(nn.Linear(width, 256), nn.LeakyReLU(), nn.Linear(256, 512), nn.LeakyReLU(),
                                     nn.Linear(512, pixels))

    def encode(self, x: Tensor) -> Tensor:
        """Logits ``(B, L, K)`` of q(z|x)."""
        return self.encoder(x).view(*x.shape[:-1], self.latents, self.categories)

    def reconstruction(self, z: Tensor, x: Tensor) -> Tensor:
        """−log p(x | z) = Σ_j BCE(d(z)_j, x_j) for one-hot z ``(..., B, L, K)`` and x ``(B, P)`` -> ``(..., B)``."""
        logits = self.decoder(z.flatten(-2))
        return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


def kl_uniform(logits: Tensor) -> Tensor:
    """KL(Cat(softmax θ) || Cat(1/K)) summed over latents: Σ_l Σ_k q_lk log(K q_lk), ``(..., L, K)`` -> ``(...)``."""
    log_q = logits.log_softmax(-1)
    log_k = torch.log(torch.tensor(float(logits.shape[-1]), device=logits.device))
    return (log_q.exp() * (log_q + log_k)).sum((-1, -2))


def sample_exact(logits: Tensor, generator: torch.Generator) -> Tensor:
    """One-hot z ~ Cat(softmax θ) (no gradient), one draw per row of ``(..., K)``, drawn on the generator's device."""
    flat = logits.reshape(-1, logits.shape[-1]).softmax(-1)
    index = torch.multinomial(flat.to(generator.device), 1, generator=generator).squeeze(-1).to(logits.device)
    return F.one_hot(index, logits.shape[-1]).to(logits.dtype).reshape(logits.shape)


@torch.no_grad()
def test_nelbo(model: VAE, images: Tensor, seed: int = 12345, chunk: int = 2000) -> float:
    """Mean negative ELBO over ``images`` with one exact sample per image from a generator seeded ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk]
        logits = model.encode(x)
        total += float((model.reconstruction(sample_exact(logits, generator), x) + kl_uniform(logits)).sum())
    return total / len(images)


def run_vae(spec: EstimatorSpec, seed: int, config: VAEConfig, data: Images,
            on_step: OnStep | None = None, device: torch.device | str = "cpu") -> RunResult:
    """Train one VAE on ``device`` from a seeded initialisation; the network is built and every draw (shuffles,
    noise, held-out samples) made on the CPU, then moved, so a seed gives the same draws everywhere; see the module
    docstring."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    est = estimator(spec)
    model = VAE(data.train.shape[1], config.latents, config.categories).to(device)
    train, test = data.train.to(device), data.test.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float]] = [(0, test_nelbo(model, test))]
    order = torch.randperm(len(data.train), generator=generator)
    cursor = 0
    for step in range(1, config.steps + 1):
        if cursor + config.batch_size > len(order):  # a new epoch: reshuffle (the last partial batch is dropped)
            order, cursor = torch.randperm(len(data.train), generator=generator), 0
        x = train[order[cursor:cursor + config.batch_size].to(device)]
        cursor += config.batch_size
        optimiser.zero_grad(set_to_none=True)
        logits = model.encode(x)
        out = est.surrogate(lambda z, x=x: model.reconstruction(z, x), logits, config.samples, generator)
        loss = out.loss / len(x) + kl_uniform(logits).mean()
        loss.backward()
        optimiser.step()
        value = loss.item()
        if step % config.log_every == 0 or step == config.steps:
            losses.append((step, value))
        if step % config.eval_every == 0 or step == config.steps:
            evals.append((step, test_nelbo(model, test)))
        if on_step is not None:
            on_step(step, config.steps, value)
    tail = [v for s, v in losses if s > config.steps - 100]
    return RunResult(curves={"test_nelbo": evals, "loss": losses},
                     final={"test_nelbo": evals[-1][1], "train_last100": sum(tail) / len(tail)})
