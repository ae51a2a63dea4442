"""What bounds aecli's training step on a CPU: its matrix products in XLA against PyTorch's.

    python benchmarks/products.py [--steps 430] [--repeats 7] [--json]
    XLA_FLAGS="--xla_cpu_use_onednn=true" python benchmarks/products.py   # try an XLA option

The default model's step is dominated by five products of 128 x 784 x 128 multiply-adds (the
first layer forward, the output layer forward, the output layer's input gradient and the tied
weight's two gradient terms). This times each shape as XLA compiles it inside a
``lax.fori_loop`` of ``--steps`` iterations (as the training chunk runs it; the median of
``--repeats``), and prints GFLOP/s. Then:

* the tied weight's two gradient terms as one product of K = 256 (issue 12's custom-VJP idea:
  worth doing only if it beats two products of K = 128);
* two independent products in one loop body (does XLA's CPU runtime run them side by side on
  the two cores? 1.0x the time of one product if so, 2.0x if not);
* the step itself, ablated: forward only, and the full step with plain SGD instead of Adam;
* with ``torch`` importable: the same three shapes in PyTorch with 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _time(fn, args, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def xla_figures(steps: int, repeats: int) -> dict:
    """Milliseconds per call and GFLOP/s of each product shape and step variant in XLA."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from aecli.config import ModelConfig
    from aecli.model import TiedAutoencoder
    from aecli.training.step import loss_fn

    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (128, 784))
    w = jax.random.normal(key, (128, 784))
    h = jax.random.normal(key, (128, 128))
    flop = 2 * 128 * 784 * 128

    def looped(product, shape, outputs=1):
        # Each carry feeds back into its own operand so that XLA can neither hoist a product
        # out of the loop nor merge two of them into one.
        def run(a, b):
            def body(i, acc):
                return tuple(acc[j] + product(a + acc[j][0, 0] * 1e-9, b) for j in range(outputs))

            init = tuple(jnp.zeros(shape) for _ in range(outputs))
            return jax.lax.fori_loop(0, steps, body, init)

        return jax.jit(run)

    shapes = {
        "x @ W.T (first layer forward, output-layer input gradient)": (
            looped(lambda a, b: a @ b.T, (128, 128)), (x, w), 1),
        "h @ W (output layer forward)": (looped(lambda a, b: a @ b, (128, 784)), (h, w), 1),
        "h.T @ x (a tied-weight gradient term)": (
            looped(lambda a, b: a.T @ b, (128, 784)), (h, x), 1),
        "[h; h].T @ [x; x] (both gradient terms as one K=256 product)": (
            looped(lambda a, b: jnp.concatenate([a, a]).T @ jnp.concatenate([b, b]), (128, 784)),
            (h, x), 2),
        "two independent x @ W.T in one loop body": (
            looped(lambda a, b: a @ b.T, (128, 128), outputs=2), (x, w), 2),
    }  # fmt: skip
    out = {}
    for name, (fn, args, n_products) in shapes.items():
        s = _time(fn, args, repeats) / steps
        out[name] = {"ms": s * 1e3, "gflops": n_products * flop / s / 1e9}

    model = TiedAutoencoder.from_config(ModelConfig(), key=key)
    params, static = eqx.partition(model, eqx.is_array)
    opt = optax.adam(1e-3)
    images = jax.random.randint(key, (steps, 128, 784), 0, 256).astype(jnp.uint8)

    def step_loop(kind):
        def run(params, state):
            def body(i, carry):
                p, s = carry
                batch = images[i]

                def loss(p):
                    return loss_fn(eqx.combine(p, static), batch, 0.1)

                if kind == "forward":
                    value = loss(p)
                    return jax.tree_util.tree_map(lambda a: a * (1 + value * 1e-12), p), s
                grads = jax.grad(loss)(p)
                if kind == "sgd":
                    return jax.tree_util.tree_map(lambda a, g: a - 1e-3 * g, p, grads), s
                updates, s = opt.update(grads, s, p)
                return eqx.apply_updates(p, updates), s

            return jax.lax.fori_loop(0, steps, body, (params, state))

        return jax.jit(run)

    for kind, label in (("adam", "step (Adam)"), ("sgd", "step (SGD)"), ("forward", "forward")):
        s = _time(step_loop(kind), (params, opt.init(params)), repeats) / steps
        out[label] = {"ms": s * 1e3}
    return out


def torch_figures(steps: int) -> dict:
    """The three product shapes in PyTorch with 1 and 2 threads (empty without torch)."""
    try:
        import torch
    except ImportError:
        return {}
    out = {}
    x, w, h = torch.randn(128, 784), torch.randn(128, 784), torch.randn(128, 128)
    flop = 2 * 128 * 784 * 128
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, fn in (("x @ W.T", lambda: x @ w.T), ("h @ W", lambda: h @ w),
                         ("h.T @ x", lambda: h.T @ x)):  # fmt: skip
            for _ in range(50):
                fn()
            t = time.perf_counter()
            for _ in range(steps):
                fn()
            s = (time.perf_counter() - t) / steps
            out[f"torch {threads} thread(s): {name}"] = {"ms": s * 1e3, "gflops": flop / s / 1e9}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=430, help="loop iterations (an MNIST epoch)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures = {"xla_flags": os.environ.get("XLA_FLAGS", ""), "cpus": os.cpu_count()}
    figures.update(xla_figures(args.steps, args.repeats))
    figures.update(torch_figures(args.steps))
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(f"{figures['cpus']} CPUs, XLA_FLAGS={figures['xla_flags']!r}")
    for name, row in figures.items():
        if isinstance(row, dict):
            rate = f"  {row['gflops']:6.0f} GFLOP/s" if "gflops" in row else ""
            print(f"{row['ms']:8.3f} ms{rate}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
