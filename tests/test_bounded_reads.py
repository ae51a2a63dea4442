"""Run-directory files outside the data readers are read bounded: a FIFO, a device or a file
whose headers lie is refused before anything is allocated (issue 10, section 1)."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from aecli.errors import CheckpointError
from aecli.rundir import RunDir, read_regular
from aecli.training.graph import load_graph


def _lying_npz(path, shape=(1 << 40,)):
    """An npz whose one member's .npy header claims ``shape`` int64 but holds 8 bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<i8", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta.npy", buf.getvalue() + b"\0" * 8)


def test_a_graph_whose_array_header_lies_is_refused_before_loading(tmp_path):
    path = tmp_path / "map_graph.npz"
    _lying_npz(path)
    with pytest.raises(CheckpointError, match="not a readable map graph"):
        load_graph(path)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_graph_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    path = tmp_path / "map_graph.npz"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    with pytest.raises(CheckpointError, match="not a readable map graph"):
        load_graph(path)  # a FIFO would block np.load forever


def test_summary_and_metrics_that_are_fifos_or_huge_read_as_absent(tmp_path):
    run = RunDir(tmp_path)
    os.mkfifo(run.summary)
    os.mkfifo(run.metrics)
    assert run.read_summary() is None and run.read_metrics() == []
    os.unlink(run.summary)
    run.summary.write_text(json.dumps({"epoch": 3, "pad": "x" * (2 << 20)}))
    assert run.read_summary() is None  # over the 1 MiB cap: not read at all
    run.summary.write_text("[" * 100_000 + "]" * 100_000)
    assert run.read_summary() is None  # deep nesting: no RecursionError traceback
    run.write_summary({"epoch": 3})
    assert run.read_summary() == {"epoch": 3}


def test_read_regular_refuses_devices_and_caps_what_it_reads(tmp_path):
    assert read_regular(tmp_path / "missing", 10) is None
    link = tmp_path / "zero"
    link.symlink_to("/dev/zero")
    assert read_regular(link, 10) is None
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert read_regular(tmp_path / "f", 10) == b"x" * 10
    assert read_regular(tmp_path / "f", 10, whole=True) is None
    assert read_regular(tmp_path / "f", 100, whole=True) == b"x" * 100
