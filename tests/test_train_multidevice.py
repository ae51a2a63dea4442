"""Data parallel training over a device mesh gives the one-device loss curve.

XLA can split the CPU into several devices, but only before its backend starts, so the runs
happen in a fresh interpreter with ``--xla_force_host_platform_device_count=4``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax
    from aecli.config import Config
    from aecli.data import load_dataset
    from aecli.events import EpochEnd, TrainingFinished
    from aecli.training import train

    data = load_dataset(sys.argv[1], report=lambda _: None)
    base = Config().replace(**{"train.epochs": 3, "train.chunks_per_epoch": 2})
    out = {"n_devices": len(jax.devices())}
    for n in (1, 4, 3):  # 3 does not divide the batch of 128: padded rows
        losses, finished = [], None
        with tempfile.TemporaryDirectory() as d:
            for e in train(base.replace(**{"train.devices": n}), run_dir=d, data=data):
                if isinstance(e, EpochEnd):
                    losses.append([e.train_loss, e.val_loss])
                if isinstance(e, TrainingFinished):
                    finished = e.summary
        out[str(n)] = dict(losses=losses, test=finished["test_loss"], device=finished["device"])
    print(json.dumps(out))
    """
)


def test_mesh_matches_one_device(tiny_mnist_dir):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_mnist_dir / "mnist")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n_devices"] == 4
    one = np.asarray(out["1"]["losses"])
    assert out["4"]["device"].startswith("4 x cpu") and out["3"]["device"].startswith("3 x cpu")
    for n in ("4", "3"):
        np.testing.assert_allclose(np.asarray(out[n]["losses"]), one, rtol=2e-4)
        np.testing.assert_allclose(out[n]["test"], out["1"]["test"], rtol=2e-4)
