"""The keyed noise, public: what a caller outside the estimators (the solver) may use of ``_noise`` and
``_categorical``. Every draw is a pure function of integer keys (seed, puzzle id, restart, variable, sample), so a
puzzle's noise does not depend on its batch, its chunk or the device's kernels (formulas in ``_noise``)."""

from ._categorical import one_hot_argmax
from ._noise import KeyedNoise, bits_to_uniform, gumbel, key_tensor, mix, mix_tensor, normal, uniform

__all__ = ["KeyedNoise", "bits_to_uniform", "gumbel", "key_tensor", "mix", "mix_tensor", "normal", "one_hot_argmax",
           "uniform"]
