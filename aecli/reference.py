"""Published figures that aecli's results are compared with (the one copy of each).

* The original experiment (TensorFlow 1, 2017; 784-128-32-2 tied autoencoder, Adam 1e-3,
  batch 128, 100 epochs): the training loss per image it printed, by epoch, its training
  data and the range of its decode grid, keyed by dataset name.
* Hinton & Salakhutdinov (2006), Science 313, Fig. 2 caption: the test reconstruction error
  per image in [0, 1] pixel units (squared error summed over the 784 pixels) of a deep
  30-D autoencoder and of 30-D PCA on MNIST.
* t-SNE on PCA-50 of the 55,000 MNIST training images: 5-NN accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class OriginalRun:
    """What the original experiment reported for one dataset.

    Attributes:
        losses: training loss per image by 1-based epoch, as the original printed it.
        epochs: epochs it trained.
        data: what it trained on, in words.
        n_train: how many training images that was.
        grid: ``(low, high, step)`` of its decode grid.
    """

    losses: Mapping[int, float]
    epochs: int
    data: str
    n_train: int
    grid: tuple[float, float, float]

    @property
    def final_loss(self) -> float | None:
        """The training loss after its last epoch, when it was published."""
        return self.losses.get(self.epochs)


ORIGINAL: Mapping[str, OriginalRun] = MappingProxyType(
    {
        "mnist": OriginalRun(
            losses=MappingProxyType({1: 52.76, 67: 31.38}),
            epochs=100,
            data="55,000 MNIST training images",
            n_train=55_000,
            grid=(-1.0, 0.8, 0.2),
        ),
        "notmnist": OriginalRun(
            losses=MappingProxyType({1: 95.69, 100: 65.77}),
            epochs=100,
            data="200,000 notMNIST_large training images",
            n_train=200_000,
            grid=(-2.0, 1.8, 0.2),
        ),
    }
)
"""The original experiment by dataset name (``mnist``, ``notmnist``)."""

HINTON_2006_AUTOENCODER_30D = 3.00
"""Test squared error per image, [0, 1] pixels: deep 784-1000-500-250-30 autoencoder."""

HINTON_2006_PCA_30D = 13.87
"""Test squared error per image, [0, 1] pixels: 30-D PCA."""

TSNE_REFERENCE_KNN = 0.977
"""5-NN accuracy of t-SNE on PCA-50 of the 55,000 MNIST training images."""
