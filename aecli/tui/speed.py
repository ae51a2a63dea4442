"""How far a run's training is and how fast it goes: the progress bars' numbers.

``Progress`` is what the run model keeps; ``measure`` updates its live images/s from the
time each progress event was stamped by the training thread (not when the UI thread got
round to it); ``progress_bars`` turns it into what the two bars show. Pure functions, no
Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

MIN_RATE_SECONDS = 0.5
"""The shortest stretch of training a live images/s figure is measured over. Over one chunk
the figure is noise: a chunk read just after the one before (the device ran it while the
loop waited, or the thread was held up) gives a delta of milliseconds and a rate of 10^6."""


@dataclass(frozen=True)
class Progress:
    """Where this session's training is: the epoch, images done, and the measured speed.

    ``rate`` is the last finished epoch's images/s (the loop's own figure); ``live_rate`` is
    measured within the current epoch from ``t0``/``d0`` (the time an event was stamped
    and the images done then, when the measurement began), once at least
    ``MIN_RATE_SECONDS`` have passed. ``not_before`` is the time of the last unpause:
    events stamped earlier (still queued) do not start a measurement.
    """

    epoch: int = 1
    epochs: int = 0
    n_train: int = 0
    done: int = 0
    rate: float | None = None
    live_rate: float | None = None
    t0: float | None = None
    d0: int = 0
    not_before: float | None = None


@dataclass(frozen=True)
class Bars:
    """What the two progress bars show (``run_done``/``run_total`` count images)."""

    epoch: int
    epochs: int
    images_done: int
    images_total: int
    run_done: float
    run_total: float
    rate: float | None
    eta: float | None
    epoch_eta: float | None


def measure(p: Progress, done: int, now: float, *, paused: bool) -> Progress:
    """``p`` with its live rate after ``done`` images of this epoch at ``now`` (the time the
    training thread stamped the event). The first event of an epoch, or the first after an
    unpause, starts the measurement; a pause stops it."""
    if paused or (p.not_before is not None and now < p.not_before):
        return replace(p, t0=None)
    if p.t0 is None or done < p.d0:
        return replace(p, t0=now, d0=done)
    if now - p.t0 >= MIN_RATE_SECONDS and done > p.d0:
        return replace(p, live_rate=(done - p.d0) / (now - p.t0))
    return p


def progress_bars(m: Any) -> Bars:
    """The progress bars of ``m`` (a ``RunModel``): this session's training, or the run's
    state before it trains."""
    p = m.progress
    epochs = (p.epochs if p is not None else 0) or m.total_epochs or 1
    if p is None:  # epoch k of the run done: its bar full (epoch 1 empty before any)
        done = min(m.epochs_done, epochs)
        return Bars(max(1, done), epochs, int(done > 0), 1, done, epochs, None, None, None)
    epoch = min(p.epoch, epochs)
    rate = p.live_rate or p.rate
    run_done = (epoch - 1) * p.n_train + p.done
    run_total = epochs * p.n_train
    eta = max(0, run_total - run_done) / rate if rate else None
    epoch_eta = max(0, p.n_train - p.done) / rate if rate else None
    return Bars(epoch, epochs, p.done, p.n_train, run_done, run_total, rate, eta, epoch_eta)
