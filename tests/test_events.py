"""Event dispatch: a handler table must cover every event type, and nothing else."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from aecli import events


def _table(result=lambda ev: type(ev).__name__):
    return {t: result for t in events.EVENT_TYPES}


def test_event_types_are_the_union():
    assert set(events.EVENT_TYPES) == set(typing.get_args(events.Event))
    assert len(events.EVENT_TYPES) == 7


def test_dispatch_calls_the_handler_of_the_type():
    dispatch = events.dispatcher(_table())
    assert dispatch(events.Compiling()) == "Compiling"
    ev = events.CheckpointSaved(path=Path("x"), epoch=1)
    assert dispatch(ev) == "CheckpointSaved"


@pytest.mark.parametrize("missing", events.EVENT_TYPES, ids=lambda t: t.__name__)
def test_a_missing_handler_is_refused_at_construction(missing):
    table = _table()
    del table[missing]
    with pytest.raises(TypeError, match=missing.__name__):
        events.dispatcher(table)


def test_a_non_event_type_is_refused():
    with pytest.raises(TypeError, match="int"):
        events.dispatcher({**_table(), int: str})


def test_dispatching_a_non_event_raises():
    with pytest.raises(TypeError, match="not a training event"):
        events.dispatcher(_table())("hello")


def test_pause_and_unpause():
    control = events.TrainControl()
    assert not control.paused
    control.pause()
    assert control.paused
    control.unpause()
    assert not control.paused
    control.wait_while_paused()  # returns at once
    control.pause()
    control.stop()  # wakes a paused loop so that it can stop
    assert control.stopped and not control.paused
