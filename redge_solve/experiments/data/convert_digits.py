"""Convert scikit-learn's bundled 8×8 digits (``sklearn/datasets/data/digits.csv.gz``) into a tiny dataset with
MNIST's schema (``image``: a greyscale PNG, ``label``: 0–9), split into ``train.parquet`` and ``test.parquet``, so
that ``datasets.load_dataset(DIR)`` reads it exactly as it reads ``ylecun/mnist`` from the Hub.

    python redge_solve/experiments/data/convert_digits.py PATH/TO/digits.csv.gz redge_solve/experiments/data/digits8x8

Pixels 0..16 are scaled by 16 (clipped to 255), so binarising at 0.5 · 255 keeps pixels above 8 of 16. The first
80 % of the rows (1437) are the training split, the remaining 360 the held-out split. Run once; the result is
shipped. (The scikit-learn wheel was fetched with ``pip download --no-deps scikit-learn``; scikit-learn itself is
not needed at run time.)
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np


def main(source: str, target: str) -> None:
    import datasets
    from PIL import Image

    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :64], table[:, 64]
    images = [Image.fromarray(np.clip(row * 16, 0, 255).astype(np.uint8).reshape(8, 8), mode="L") for row in pixels]
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=[str(i) for i in range(10)])})
    cut = int(0.8 * len(images))
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", slice(0, cut)), ("test", slice(cut, None))):
        part = datasets.Dataset.from_dict({"image": images[rows], "label": labels[rows].tolist()}, features=features)
        part.to_parquet(str(out / f"{split}.parquet"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
