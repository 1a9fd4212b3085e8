"""The paper's other experiments, each one readable file with its objective's formula in the docstring:

- ``poly``: polynomial programming, E[(1/L) Σ_l |x_l − t|^p] over mean-field logits (paper §4.1);
- ``gmm``: variational inference for a Gaussian mixture, mean-field assignments + MAP means (paper §4.2);
- ``vae``: categorical and Bernoulli VAEs on binarised images, MNIST or the shipped 8×8 digits (paper §4.4);
- ``runner``: every (setting, estimator, seed) → curves, a summary (mean ± std over seeds) and CSV/JSON/PNG files.

The command line is ``redge-solve bench poly|gmm|vae`` (``redge_solve/cli/bench_cmd.py``).
"""
