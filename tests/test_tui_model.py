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
    m = model.unpaused(m)
    assert m.progress.t0 is None and m.status == model.Status("resumed", busy=True)


def test_finished_and_stopped_say_so():
    m = run_through(started(), epoch_end(1), epoch_end(2), epoch_end(3), EXAMPLES[TrainingFinished])
    assert m.final_event is EXAMPLES[TrainingFinished]
    assert m.status.text == (
        "finished: 3 epochs, train 25.00 (loss per image); e: explorer, q: quit"
    )
    stop = TrainingStopped(1, "stopped", "stopped by the user", Path("run/latest.ckpt"))
    m = run_through(started(), epoch_end(1), stop)
    assert m.status.text == "stopped after epoch 1: checkpoint run/latest.ckpt; press r to resume"
    assert m.has_checkpoint and m.last_checkpoint == Path("run/latest.ckpt")
    assert m.progress.epoch == 1 and m.progress.done == 600


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
