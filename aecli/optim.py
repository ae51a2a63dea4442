"""The optimizer of a run, built from its config (training and checkpoint loading both use it).

Checkpoints store the optimizer state; rebuilding its skeleton needs the same optimizer that
training used, so it lives here rather than in training (no checkpoint <-> training cycle).
"""

from __future__ import annotations

import functools

import optax

from aecli.config import TrainConfig


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with the configured learning rate, exposed as a live hyperparameter.

    One instance per learning rate is kept, so the compiled epoch (which takes the optimizer
    as a static argument) is reused by every run in a process with the same settings.

    Args:
        cfg: the run's training settings (``lr`` is used).

    Returns:
        ``optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr)``, cached per rate.
    """
    return _adam(float(cfg.lr))


@functools.lru_cache(maxsize=32)
def _adam(lr: float) -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adam)(learning_rate=lr)
