"""What ``partial_fit`` costs beyond its training step, for a large model.

A model of about one million parameters (500 inputs, Dense(1000), Dense(500))
learns 64-row chunks with ``partial_fit``, one call per chunk. Each round
times one ``partial_fit`` call and, right after it, the bare training step
on the same rows (forward, loss, backward, L2 penalty, Adam step, written
with the engine's public objects), and reports the best of the rounds. The
difference is the overhead: input validation, target encoding, the
checkpoint that lets a failed call leave the model as it was, bookkeeping.

Run from the repository root::

    python benchmarks/bench_partial_fit.py            # 30 rounds
    python benchmarks/bench_partial_fit.py --rounds 5 --width 200
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sknnlite import Dense, NNRegressor, ReLU


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--width", type=int, default=1000, help="first hidden width")
    parser.add_argument("--rows", type=int, default=64, help="rows per chunk")
    args = parser.parse_args(argv)
    for name in ("rounds", "width", "rows"):
        if getattr(args, name) < 1:
            parser.error(
                f"argument --{name}: must be above 0, got {getattr(args, name)}"
            )
    return args


def bare_step(model, X, targets):
    """Forward, loss, backward, penalty and one Adam step, as training does."""
    network, loss = model.network_, model.loss_function_
    output = network.forward(X, training=True)
    _, grad_output = loss.value_and_gradient(targets, output)
    network.backward(grad_output)
    decayed = network.coef[: network.n_decay]
    network.grad[: network.n_decay] += model.alpha / X.shape[0] * decayed
    model.optimizer_.step(network.coef, network.grad, model.learning_rate)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 500))
    y = rng.normal(size=args.rows)
    layers = [Dense(args.width), ReLU(), Dense(args.width // 2), ReLU(), Dense()]
    model = NNRegressor(layers, batch_size=args.rows, shuffle=False, random_state=0)
    model.partial_fit(X, y)
    targets = ((y - y.mean()) / y.std()).reshape(-1, 1)
    calls, steps = [], []
    with threadpool_limits(1):
        for _ in range(args.rounds):
            start = time.perf_counter()
            model.partial_fit(X, y)
            calls.append(time.perf_counter() - start)
            start = time.perf_counter()
            bare_step(model, X, targets)
            steps.append(time.perf_counter() - start)
    call, step = min(calls) * 1e3, min(steps) * 1e3
    print(
        f"{model.network_.coef.size:,} parameters, {args.rows}-row chunks, "
        "BLAS 1 thread"
    )
    print(
        f"partial_fit {call:.1f} ms, bare step {step:.1f} ms: overhead "
        f"{call - step:.1f} ms ({(call - step) / call:.0%} of the call)"
    )


if __name__ == "__main__":
    main()
