#!/usr/bin/env python3
"""The machine's float32 matrix-multiply peak at N threads: the ceiling against which both
plateau's and PyTorch's GFLOP/s are read.

Square n×n sgemm with torch.mm and numpy.matmul, best of several repeats per size,
GFLOP/s = 2n³ / t. Prints one JSON object:
  {"threads", "torch_gflops", "numpy_gflops", "peak_gflops", "by_size": {...}, "blas"}
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blas_info  # noqa: E402


def best_seconds(fn, repeats, budget_s):
    """Fastest of `repeats` calls after one warm-up call, stopping early past `budget_s`."""
    fn()
    best = float("inf")
    spent = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        if spent > budget_s:
            break
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", default="512,1024,2048", help="comma-separated square sizes")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget", type=float, default=5.0, help="max seconds of timed calls per size")
    args = p.parse_args()

    blas_info.set_thread_env(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    blas_info.pin_blas_threads(args.threads)

    by_size = {}
    rng = np.random.default_rng(0)
    for n in (int(s) for s in args.sizes.split(",")):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
        out_t = torch.empty(n, n)
        out_n = np.empty((n, n), dtype=np.float32)
        flop = 2 * n**3
        t_torch = best_seconds(lambda: torch.mm(ta, tb, out=out_t), args.repeats, args.budget)
        t_numpy = best_seconds(lambda: np.matmul(a, b, out=out_n), args.repeats, args.budget)
        by_size[str(n)] = {
            "torch_gflops": round(flop / t_torch / 1e9, 2),
            "numpy_gflops": round(flop / t_numpy / 1e9, 2),
        }

    torch_best = max(v["torch_gflops"] for v in by_size.values())
    numpy_best = max(v["numpy_gflops"] for v in by_size.values())
    print(json.dumps({
        "threads": args.threads,
        "torch_gflops": torch_best,
        "numpy_gflops": numpy_best,
        "peak_gflops": max(torch_best, numpy_best),
        "by_size": by_size,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "blas": blas_info.describe(),
    }))
    if blas_info.is_reference_blas():
        print("warning: the reference BLAS is in use; the peak is not the machine's", file=sys.stderr)


if __name__ == "__main__":
    main()
