"""The TUI's run model as plain functions: every training event has a handler, and the
handlers turn events into progress, speed, history and the status line without a screen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from aecli.config import Config
from aecli.events import (
    EVENT_TYPES,
    CheckpointSaved,
    Compiling,
    EpochEnd,
    EpochProgress,
    RunStarted,
    TrainingFinished,
    TrainingStopped,
    dispatcher,
)
from aecli.tui import model
from aecli.tui.model import Progress, RunModel

CONFIG = Config(name="unit").replace(**{"train.epochs": 3})


def started(start_epoch: int = 0) -> RunStarted:
    return RunStarted(
        run_dir=Path("run"),
        name="unit",
        dataset="digits",
        source="somewhere",
        device="cpu",
        n_params=1234,
        n_train=600,
        epochs=3,
        start_epoch=start_epoch,
        steps_per_epoch=6,
        config=CONFIG,
    )


def epoch_end(epoch: int) -> EpochEnd:
    return EpochEnd(epoch, 3, 30.0 - epoch, 31.0 - epoch, 2.0, 300.0, model=None)


EXAMPLES = {
    RunStarted: started(),
    Compiling: Compiling(),
    EpochProgress: EpochProgress(1, 300, 600),
    EpochEnd: epoch_end(1),
    CheckpointSaved: CheckpointSaved(Path("run/latest.ckpt"), 1),
    TrainingFinished: TrainingFinished({"epochs": 3, "train_loss": 25.0}, model=None),
    TrainingStopped: TrainingStopped(1, "stopped", "stopped by the user", Path("run/x")),
}


def run_through(*events, m: RunModel | None = None, times=None) -> RunModel:
    m = m or RunModel(Path("run"), config=CONFIG, training_active=True)
    for i, ev in enumerate(events):
        m = model.apply(m, ev, times[i] if times else 0.0)
    return m


def test_every_event_type_has_a_handler():
    # A new event type without a TUI handler fails here (and at import, in the dispatcher).
    assert set(model.EVENT_STEPS) == set(EVENT_TYPES)
    dispatcher(model.EVENT_STEPS)
    assert set(EXAMPLES) == set(EVENT_TYPES), "add an example of the new event type"
    for ev in EXAMPLES.values():
        assert isinstance(run_through(started(), ev), RunModel)


def test_apply_is_pure():
    before = run_through(started())
    after = model.apply(before, EXAMPLES[EpochProgress], 5.0)
    assert before.progress == Progress(epoch=1, epochs=3, n_train=600)
    assert after.progress.done == 300 and after is not before
    again = model.apply(before, EXAMPLES[EpochProgress], 5.0)
    assert again.progress == after.progress and again.status == after.status


def test_run_started_fills_info_progress_and_status():
    m = run_through(started(start_epoch=1))
    assert m.run_started and m.epochs_done == 1 and m.has_checkpoint
    assert m.info == model.RunInfo("unit", "digits", "somewhere", "cpu", 1234)
    assert m.status == model.Status("resuming at epoch 2 of 3", busy=True)
    assert m.progress == Progress(epoch=2, epochs=3, n_train=600)


def test_progress_measures_the_live_speed_within_an_epoch():
    m = run_through(
        started(),
        Compiling(),
        EpochProgress(1, 150, 600),
        EpochProgress(1, 450, 600),
        times=[0.0, 0.0, 10.0, 11.0],
    )
    assert m.progress.t0 == 10.0 and m.progress.d0 == 150
    assert m.progress.live_rate == pytest.approx(300.0)
    assert m.status == model.Status("training epoch 1 of 3")
    bars = model.progress_bars(m)
    assert (bars.images_done, bars.images_total, bars.run_done, bars.run_total) == (
        450,
        600,
        450,
        1800,
    )
    assert bars.epoch_eta == pytest.approx(0.5) and bars.eta == pytest.approx(4.5)


def resumed_epoch(stamps, *, n_train=55_000, chunks=16, start_epoch=5):
    """A resumed run's first epoch: each chunk's progress event at its stamp."""
    per = n_train // chunks
    ev = replace(started(start_epoch), n_train=n_train, epochs=start_epoch + 5)
    events = [ev, Compiling()] + [
        EpochProgress(start_epoch + 1, per * (i + 1), n_train) for i in range(len(stamps))
    ]
    return run_through(*events, times=[0.0, 0.0, *stamps])


def test_the_speed_right_after_a_resume_is_the_training_speed():
    # 86,000 img/s: a chunk of 3,437 images every 40 ms, but the second chunk is read 5 ms
    # after the first (the device ran it while the first was read). Measured over one chunk
    # that gave 687,400 img/s; over half a second it is the real speed.
    stamps = [100.0, 100.005] + [100.005 + 0.04 * k for k in range(1, 15)]
    early = resumed_epoch(stamps[:3])
    assert early.progress.live_rate is None  # not measured yet: not half a second
    assert model.progress_bars(early).rate is None  # "-- img/s", not 673,743
    m = resumed_epoch(stamps)
    per = 55_000 // 16
    expected = (len(stamps) - 1) * per / (stamps[-1] - stamps[0])
    assert m.progress.live_rate == pytest.approx(expected)
    assert 80_000 < m.progress.live_rate < 95_000
    # What the epoch bar shows: the live figure, and an ETA from it.
    bars = model.progress_bars(m)
    assert bars.rate == m.progress.live_rate
    assert bars.epoch_eta == pytest.approx((55_000 - len(stamps) * per) / expected)


def test_a_new_epoch_and_an_unpause_measure_afresh():
    m = resumed_epoch([0.0, 0.25, 0.5, 0.75, 1.0])  # 3,437 images per 0.25 s
    assert m.progress.live_rate == pytest.approx(3437 / 0.25)
    m = model.paused(m)
    m = model.apply(m, EpochProgress(6, 6 * 3437, 55_000), 1.25)  # the chunk under way
    m = model.unpaused(m, now=60.0)  # a minute later
    assert m.progress.live_rate is None and m.progress.t0 is None
    # An event stamped before the unpause (still queued) starts nothing: the minute paused
    # is not in the figure.
    m = model.apply(m, EpochProgress(6, 7 * 3437, 55_000), 59.0)
    assert m.progress.t0 is None
    for k, t in enumerate([60.1, 60.35, 60.6, 60.85]):
        m = model.apply(m, EpochProgress(6, (8 + k) * 3437, 55_000), t)
    assert m.progress.live_rate == pytest.approx(3 * 3437 / 0.75)
    # The next epoch: no live figure from this one's counts, the loop's epoch rate shows.
    m = model.apply(m, replace(epoch_end(6), epoch=6, epochs=10, images_per_second=13_000.0), 61)
    m = model.apply(m, EpochProgress(7, 3437, 55_000), 61.5)
    assert m.progress.live_rate is None and model.progress_bars(m).rate == 13_000.0


def test_the_worker_stamps_each_event_when_the_loop_yields_it(tmp_path):
    from aecli.tui import workers
    from aecli.tui.demo import FakeSplits, demo_backend
    from aecli.tui.messages import TrainerEvent

    times = iter([5.0, 5.5, 7.0])
    events = [started(), EpochProgress(1, 300, 600), EpochProgress(1, 600, 600)]
    backend = demo_backend()
    backend.trainer = lambda config, **kw: iter(events)
    posted: list = []
    workers.train(
        posted.append, backend, config=CONFIG, run_dir=tmp_path, splits=FakeSplits(),
        samples=None, resume=False, read_old_history=False,
        control=model_control(), done=threading_event(), clock=lambda: next(times),
    )  # fmt: skip
    stamped = [(m.event, m.at) for m in posted if isinstance(m, TrainerEvent)]
    assert stamped == list(zip(events, [5.0, 5.5, 7.0], strict=True))


def model_control():
    from aecli.events import TrainControl

    return TrainControl()


def threading_event():
    import threading

    return threading.Event()


def test_epoch_end_adds_history_and_moves_to_the_next_epoch():
    m = run_through(started(), EpochProgress(1, 600, 600), epoch_end(1), epoch_end(1))
    assert [r["epoch"] for r in m.history] == [1]  # a repeated epoch replaces its row
    assert m.history[0] == model.history_row(epoch_end(1))
    assert m.epochs_done == 1
    p = m.progress
    assert (p.epoch, p.epochs, p.n_train, p.done, p.rate) == (2, 3, 600, 0, 300.0)
    assert p.t0 is None and p.live_rate is None  # the next epoch measures afresh
    last = run_through(epoch_end(2), epoch_end(3), m=m)
    assert last.progress.epoch == 3 and last.progress.done == 600


def test_a_pause_keeps_its_status_while_progress_arrives():
    m = model.paused(run_through(started(), EpochProgress(1, 100, 600)))
    m = model.apply(m, EpochProgress(1, 200, 600), 1.0)
    assert m.status.text.startswith("paused after the current chunk")
    m = model.unpaused(m, 2.0)
    assert m.progress.t0 is None and m.status == model.Status("resumed", busy=True)


def test_finished_and_stopped_say_so():
    m = run_through(started(), epoch_end(1), epoch_end(2), epoch_end(3), EXAMPLES[TrainingFinished])
    assert m.final_event is EXAMPLES[TrainingFinished]
    assert m.status.text == ("finished: 3 epochs; loss per image train 25.00")
    stop = TrainingStopped(1, "stopped", "stopped by the user", Path("run/latest.ckpt"))
    m = run_through(started(), epoch_end(1), stop)
    assert m.status.text == "stopped after epoch 1: checkpoint run/latest.ckpt; press r to resume"
    assert m.has_checkpoint and m.last_checkpoint == Path("run/latest.ckpt")
    assert m.progress.epoch == 1 and m.progress.done == 600
    # Stopped before the first epoch ended: epoch 1 is not shown as done.
    m = run_through(started(), EpochProgress(1, 300, 600), TrainingStopped(0, "stopped", "", None))
    bars = model.progress_bars(m)
    assert (bars.epoch, bars.images_done, bars.run_done) == (1, 0, 0)


def test_a_stop_after_ctrl_c_is_an_interruption():
    m = replace(run_through(started()), interrupted=True)
    m = model.apply(m, TrainingStopped(0, "stopped", "stopped", None), 0.0)
    assert m.final_event.reason == "interrupted"
    assert m.final_event.message == "Ctrl-C: stopped"
    assert "no checkpoint written" in m.status.text


def test_bars_before_this_session_trains_show_the_run_state():
    m = RunModel(Path("run"), config=CONFIG, epochs_done=2)
    bars = model.progress_bars(m)
    assert (bars.epoch, bars.epochs, bars.run_done, bars.run_total) == (2, 3, 2, 3)
    assert bars.rate is None and bars.eta is None
    fresh = model.progress_bars(RunModel(Path("run"), config=CONFIG))
    assert (fresh.epoch, fresh.images_done, fresh.run_done) == (1, 0, 0)  # not "epoch 0 100%"


def test_info_line_falls_back_to_the_config_and_question_marks():
    line = model.info_line(RunModel(Path("runs/x"), config=CONFIG))
    assert line == model.InfoLine("unit", CONFIG.data.dataset, "", "?", None)
    assert model.info_line(RunModel(Path("runs/x"))).name == "x"


def test_a_waiting_progress_message_is_superseded_by_the_next_of_its_epoch():
    from aecli.tui.messages import TrainerEvent

    waiting = TrainerEvent(EpochProgress(2, 100, 600))
    assert waiting.can_replace(TrainerEvent(EpochProgress(2, 200, 600)))
    assert not waiting.can_replace(TrainerEvent(EpochProgress(3, 100, 600)))
    assert not waiting.can_replace(TrainerEvent(epoch_end(2)))
    assert not TrainerEvent(epoch_end(2)).can_replace(TrainerEvent(epoch_end(3)))


def test_a_map_runs_epoch_end_keeps_the_map_loss_in_the_history():
    ev = replace(epoch_end(1), map_loss=0.95)
    m = run_through(started(), ev)
    assert m.history[0]["map_loss"] == 0.95
    assert "map_loss" not in run_through(started(), epoch_end(1)).history[0]  # a plain run


def test_the_finished_line_fits_80_columns():
    summary = {"epochs": 100, "train_loss": 109.42, "val_loss": 109.91, "test_loss": 108.6}
    text = model.finished_text(TrainingFinished(summary, model=None), 100)
    assert text == "finished: 100 epochs; loss per image train 109.42, val 109.91, test 108.60"
    assert len(text) <= 78
