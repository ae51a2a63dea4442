"""Training: the compiled step, evaluation, devices, the session set-up and the loop.

``train(config, run_dir=..., data=...)`` is the one entry point: a generator of
``aecli.events`` values. Its parts, by role:

* ``step``: the loss, ``Layout`` (an epoch in chunks of steps), the epoch order and the
  compiled chunk of steps.
* ``evaluate``: ``Evaluation`` and ``EvalSet``, the padded evaluation set.
* ``devices``: device choice, the data-parallel mesh and its shardings.
* ``session``: a fresh or resumed run checked against its data, as a ``Session`` and the
  ``TrainState`` to start from; the checkpoint header.
* ``graph``: map mode's fuzzy k-NN graph of the training images (built once, stored in the
  run directory) and UMAP's a, b.
* ``map``: map mode's UMAP cross-entropy on the codes, added inside the compiled step.
* ``loop``: ``train`` itself.
"""

from aecli.training.loop import train

__all__ = ["train"]
