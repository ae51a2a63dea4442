"""Loss, optimizer and the training loop (placeholder: the training issue fills this in)."""

from __future__ import annotations

import optax

from aecli.config import TrainConfig


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with the configured learning rate, exposed as a live hyperparameter."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=cfg.lr)
