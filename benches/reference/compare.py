#!/usr/bin/env python3
"""Markdown tables of plateau against PyTorch from the JSON lines bench-vs-pytorch.sh writes.

Input lines: `plateau bench --format json` objects (backend "flex", ...), torch_bench.py objects
(backend "pytorch") and one sgemm_peak.py object (has "peak_gflops"). Runs of the same model are
paired by what defines the work (family, params, FLOPs per image, input, batch, threads,
), not by name, so a naming difference between the two sides cannot split a pair.
Each cell is the median over rounds, with the min–max over rounds where there are several.
"""

import argparse
import json
import statistics
import sys


def key(row):
    inp = row.get("input", {})
    return (
        row["family"], row["params"], row["flops_per_image"],
        inp.get("channels"), inp.get("image_size"), inp.get("num_classes"),
        row["batch_size"], row["threads"],
    )


def spread(values, digits):
    """'median (min–max)' of per-round values; the bare value for a single round."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def percent(value, peak):
    return f"{100 * value / peak:.0f} %" if peak and value is not None else "–"


def table(groups, part, peak):
    """One markdown table; `part` is None for training (top-level fields) or "eval"."""
    pick = (lambda r: r) if part is None else (lambda r: r[part])
    lines = [
        "| model | params | input | batch | plateau img/s | PyTorch img/s | plateau / PyTorch "
        "| plateau GFLOP/s | % of peak | PyTorch GFLOP/s | % of peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group in groups:
        ours = [pick(r) for r in group["plateau"]]
        theirs = [pick(r) for r in group["pytorch"]]
        ips_ours = [r["images_per_second"] for r in ours]
        ips_theirs = [r["images_per_second"] for r in theirs]
        gf_ours = [r["gflops_per_second"] for r in ours]
        gf_theirs = [r["gflops_per_second"] for r in theirs]
        ratio = (
            f"{statistics.median(ips_ours) / statistics.median(ips_theirs):.2f}×"
            if ips_ours and ips_theirs else "–"
        )
        med = lambda v: statistics.median(v) if v else None  # noqa: E731
        lines.append(
            f"| {group['name']} | {group['params']:,} | {group['input']} | {group['batch']} "
            f"| {spread(ips_ours, 1)} "
            f"| {spread(ips_theirs, 1)} | {ratio} | {spread(gf_ours, 1)} "
            f"| {percent(med(gf_ours), peak)} | {spread(gf_theirs, 1)} "
            f"| {percent(med(gf_theirs), peak)} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", help="JSON lines file (bench-vs-pytorch.sh's results)")
    args = p.parse_args()

    groups, by_key, peaks = [], {}, []
    with open(args.results) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"error: {args.results}:{n} is not JSON: {e}")
            if "peak_gflops" in row:
                peaks.append(row)
                continue
            k = key(row)
            if k not in by_key:
                inp = row.get("input", {})
                shape = f"{inp.get('channels')}×{inp.get('image_size')}×{inp.get('image_size')}"
                by_key[k] = {"name": row["name"], "params": row["params"], "input": shape,
                             "batch": row["batch_size"], "plateau": [], "pytorch": []}
                groups.append(by_key[k])
            side = "pytorch" if row["backend"] == "pytorch" else "plateau"
            by_key[k][side].append(row)
            if side == "pytorch":
                by_key[k]["name"] = row["name"]  # the `plateau params` name, with its width
    if not groups:
        sys.exit(f"error: no benchmark rows in {args.results}")
    for group in groups:
        optimizers = sorted({r.get("optimizer") for r in group["plateau"] + group["pytorch"]})
        if len(optimizers) > 1:  # a different update step would make the pair unfair
            print(f"warning: {group['name']}: optimizers differ between runs: {optimizers}",
                  file=sys.stderr)
            group["name"] += f" (optimizers differ: {', '.join(map(str, optimizers))})"

    peak = max((r["peak_gflops"] for r in peaks), default=None)
    first = groups[0]["plateau"] + groups[0]["pytorch"]
    sample = first[0]
    backends = sorted({r["backend"] for g in groups for r in g["plateau"]}) or ["none"]
    torch_row = next((r for g in groups for r in g["pytorch"]), {})
    rounds = max(max(len(g["plateau"]), len(g["pytorch"])) for g in groups)
    print(f"{sample['threads']} threads, "
          f"{sample.get('optimizer')} optimizer, {sample.get('steps')} timed steps, "
          f"{rounds} round(s); plateau backend {', '.join(backends)}; "
          f"PyTorch {torch_row.get('torch_version', '?')}.")
    if torch_row.get("blas"):
        print(f"PyTorch BLAS: {torch_row['blas']}.")
    if peak:
        print(f"sgemm peak at {peaks[-1]['threads']} threads: {peak:.1f} GFLOP/s "
              f"(torch.mm {peaks[-1]['torch_gflops']:.1f}, numpy {peaks[-1]['numpy_gflops']:.1f}).")
    print("Cells: median over rounds (min–max). GFLOP/s: training counts 3 × forward FLOPs.\n")
    print("Training steps (forward, loss, backward, optimizer step):\n")
    print(table(groups, None, peak))
    print("\nEvaluation (forward only, no gradients):\n")
    print(table(groups, "eval", peak))


if __name__ == "__main__":
    main()
