#!/usr/bin/env python3
"""PyTorch reference for `plateau bench`: the same model (built from `plateau params` JSON, its
parameter count checked), the same batch, threads and optimizer, synthetic data, timed per step.

    plateau params --preset vit-tiny-p4 --image-size 32 --in-channels 3 --num-classes 10 \\
        --format json | /usr/bin/python3 benches/reference/torch_bench.py --spec - --threads 2

Prints one JSON object of the shape `plateau bench --format json` prints (backend "pytorch"),
or a small table.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blas_info  # noqa: E402  (no torch import: thread env vars must be set first)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--spec", required=True, help="`plateau params --format json` output, or - for stdin")
    p.add_argument("--name", help="row of the spec to use (default: the first)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args(argv)
    if min(args.batch_size, args.steps, args.threads) < 1 or args.warmup < 0:
        p.error("--batch-size, --steps and --threads must be at least 1, --warmup at least 0")
    return args


def load_spec(path, name):
    text = sys.stdin.read() if path == "-" else open(path).read()
    rows = json.loads(text)
    rows = rows if isinstance(rows, list) else [rows]
    if not rows:
        sys.exit(f"error: spec {path} has no rows")
    if name is None:
        return rows[0]
    for row in rows:
        if row["name"] == name:
            return row
    sys.exit(f"error: no row named {name!r} in {path}; rows: {[r['name'] for r in rows]}")


def summarise(seconds, batch, flops):
    """Per-step times (s) → the timing fields of plateau bench."""
    median = statistics.median(seconds)
    return {
        "images_per_second": batch / median,
        "step_ms_median": median * 1e3,
        "step_ms_min": min(seconds) * 1e3,
        "step_ms_max": max(seconds) * 1e3,
        "gflops_per_second": flops * batch / median / 1e9,
    }


def main():
    args = parse_args()
    blas_info.set_thread_env(args.threads)
    import torch
    import torch.nn.functional as F

    from torch_models import build, trainable_params

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    spec = load_spec(args.spec, args.name)
    inp = spec["input"]
    torch.manual_seed(args.seed)
    model = build(spec["config"], inp)
    params = trainable_params(model)
    if params != spec["params"]:
        sys.exit(
            f"error: the torch model of {spec['name']} has {params:,} trainable parameters, "
            f"plateau's has {spec['params']:,}: torch_models.py no longer matches plateau-models; "
            "refusing to compare different models"
        )

    # Synthetic batch, pixels in [-1, 1] as plateau feeds them; fixed seed.
    gen = torch.Generator().manual_seed(args.seed)
    shape = (args.batch_size, inp["channels"], inp["image_size"], inp["image_size"])
    images = torch.rand(shape, generator=gen) * 2 - 1
    labels = torch.randint(0, inp["num_classes"], (args.batch_size,), generator=gen)

    if args.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    blas_info.pin_blas_threads(args.threads)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        opt.step()
        return loss

    def eval_step():
        return model(images)

    def timed(step):
        for _ in range(args.warmup):
            step()
        seconds = []
        for _ in range(args.steps):
            start = time.perf_counter()
            out = step()  # CPU ops are synchronous: the step is done when this returns
            seconds.append(time.perf_counter() - start)
        return seconds, out

    model.train()
    train_s, loss = timed(train_step)
    if not torch.isfinite(loss):  # the numbers would time a diverged model
        sys.exit(f"error: training loss is {float(loss)} for {spec['name']}")
    model.eval()
    with torch.no_grad():
        eval_s, _ = timed(eval_step)

    flops = spec["flops"]
    train = summarise(train_s, args.batch_size, 3 * flops)  # forward + backward ≈ 3 × forward
    result = {
        "name": spec["name"],
        "family": spec["family"],
        "backend": "pytorch",
        "threads": args.threads,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "steps": args.steps,
        "input": {k: inp[k] for k in ("channels", "image_size", "num_classes")},
        "params": params,
        "flops_per_image": flops,
        **train,
        "eval": summarise(eval_s, args.batch_size, flops),
        "torch_version": torch.__version__,
        "blas": blas_info.describe(),
        "threading": blas_info.describe_threading(),
    }
    if blas_info.is_reference_blas():
        print(
            "warning: torch is using the reference BLAS; point libblas.so.3 at OpenBLAS "
            "(update-alternatives --config libblas.so.3-x86_64-linux-gnu)",
            file=sys.stderr,
        )

    if args.format == "json":
        print(json.dumps(result))
        return
    print(f"{result['name']} ({result['family']}), {params:,} params, "
          f"{flops / 1e9:.4f} GFLOPs/image, batch {args.batch_size}, {args.threads} threads, "
          f"{args.optimizer}, {args.steps} steps after {args.warmup} warm-up")
    print(f"torch {torch.__version__}, oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
          f"BLAS: {result['blas']}")
    print(f"threading: {result['threading']}")
    print(f"{'':<6} {'img/s':>9} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'GFLOP/s':>8}")
    for label, row in (("train", train), ("eval", result["eval"])):
        print(f"{label:<6} {row['images_per_second']:>9.1f} {row['step_ms_median']:>10.1f} "
              f"{row['step_ms_min']:>9.1f} {row['step_ms_max']:>9.1f} {row['gflops_per_second']:>8.1f}")


if __name__ == "__main__":
    main()
