"""Map mode's cost: a map epoch against the plain epoch of the same model, side by side.

    python benchmarks/map_speed.py [CONFIG.toml ...] [--data-dir ../shared/data] [--pairs 6]
        [--json]

For each config (default ``configs/mnist-map.toml``) it times the k-NN graph build
(``aecli.training.graph.build_graph``), then compiles both the plain chunk (``train_chunk``
without a term) and the map chunk (with the config's ``MapTerm``) and runs whole epochs
interleaved, plain, map, map, plain, ..., so that a shared machine's load falls on both alike.
It prints the median of the per-pair ratios map / plain and the ratio of the medians; the
original experiment's plain epoch (784-128-32-2) runs in the same rotation, for scale.
Targets (issue 13): ratio <= 2, graph < 60 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", default=[str(REPO / "configs" / "mnist-map.toml")])
    ap.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [measure(c, args.data_dir, args.pairs) for c in args.configs]
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        print(
            f"{r['config']}: sizes {r['sizes']}, graph {r['graph_seconds']:.1f} s; epoch plain "
            f"{r['median_plain']:.2f} s, map {r['median_map']:.2f} s; map/plain: median of "
            f"pairs {r['median_ratio']:.2f}, ratio of medians {r['ratio_of_medians']:.2f}; "
            f"original 784-128-32-2 plain epoch {r['median_original']:.2f} s"
        )


def measure(config_path: str, data_dir: str, pairs: int) -> dict:
    """Graph time and interleaved epoch times of one config (see the module docstring)."""
    import equinox as eqx
    import jax
    import numpy as np

    from aecli.config import ModelConfig, load_config
    from aecli.data import load_dataset
    from aecli.model import TiedAutoencoder
    from aecli.optim import make_optimizer
    from aecli.training.graph import build_graph
    from aecli.training.map import make_map_term

    cfg = load_config(config_path)
    splits = load_dataset(cfg.data.dataset, data_dir=data_dir, report=lambda m: None)
    images = np.asarray(splits["train"].images)
    start = time.perf_counter()
    graph = build_graph(images, cfg.map.n_neighbors, cfg.map.pca_dims)
    graph_seconds = time.perf_counter() - start
    term = make_map_term(cfg.map, graph, cfg.train.seed)
    optimizer = make_optimizer(cfg.train)
    state = {}
    for kind, model_cfg in (("plain", cfg.model), ("map", cfg.model), ("original", ModelConfig())):
        model = TiedAutoencoder.from_config(model_cfg, key=jax.random.key(0))
        state[kind] = (model, optimizer.init(eqx.filter(model, eqx.is_array)))
    epoch = _epoch_runner(cfg, images, optimizer, state, term)
    for kind in state:
        epoch(kind, 1)  # compile
    times: dict[str, list[float]] = {kind: [] for kind in state}
    for e in range(2, pairs + 2):
        for kind in ("plain", "map", "original") if e % 2 else ("map", "plain", "original"):
            times[kind].append(epoch(kind, e))
    ratios = [m / p for m, p in zip(times["map"], times["plain"], strict=True)]
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "config": config_path,
        "sizes": list(cfg.model.sizes),
        "edges_per_step": cfg.map.edges_per_step,
        "graph_seconds": graph_seconds,
        "plain_s": times["plain"],
        "map_s": times["map"],
        "median_plain": med["plain"],
        "median_map": med["map"],
        "original_s": times["original"],
        "median_original": med["original"],
        "median_ratio": statistics.median(ratios),
        "ratio_of_medians": med["map"] / med["plain"],
        "map_over_original": med["map"] / med["original"],
    }


def _epoch_runner(cfg, images, optimizer, state, term):
    """``epoch(kind, e)``: train one whole epoch of ``kind`` in place; return its seconds."""
    import jax
    import jax.numpy as jnp

    from aecli.training.step import Layout, epoch_order, train_chunk

    layout = Layout.make(len(images), cfg.train.batch_size, cfg.train.chunks_per_epoch)
    data = jax.device_put(images)
    key = jax.random.key(cfg.train.seed)

    def epoch(kind: str, e: int) -> float:
        t = time.perf_counter()
        rows, weights = epoch_order(key, jnp.int32(e), layout)
        extra = term.for_epoch(e) if kind == "map" else None  # "plain", "original": none
        model, opt_state = state[kind]
        for c in range(layout.chunks):
            out = train_chunk(
                model, opt_state, data, rows, weights, jnp.int32(c), optimizer,
                cfg.train.l2_weight, None, extra,
            )  # fmt: skip
            model, opt_state = out[:2]
        jax.block_until_ready((model, opt_state))
        state[kind] = (model, opt_state)
        return time.perf_counter() - t

    return epoch


if __name__ == "__main__":
    sys.exit(main())
