"""Peak memory and time of one forward + backward of a JSD distillation loss on an LM head, five ways.

    python benchmarks/kd_loss_memory.py        # N in {256, 1024} x V in {32000, 128256}
    python benchmarks/kd_loss_memory.py --sizes 1024x128256 --sweep   # the README row + chunk sweep
    python benchmarks/kd_loss_memory.py --sizes 1024x128256 --sweep-only --repeats 1   # the sweep alone

Each configuration runs in a fresh subprocess (fp32, CPU, H = 256, one torch thread so that the two
shared cores give steadier times). Memory: the process's peak resident set (``ru_maxrss``) after
one forward + backward minus its peak just after the inputs (hidden states, LM heads, labels) are
built, after the same code ran once on tiny inputs (libraries load code lazily): the extra memory
the loss needed at its worst moment, gradients included. glibc runs with a fixed mmap threshold
(``MALLOC_ENV``) so that every tensor buffer is returned to the system when freed and the peak counts
live buffers, not the allocator's retained heap. Time: the median of ``--repeats`` further runs in the
same process. Ratios are against ``dense`` at the same size.

What runs:
  dense       student and teacher logits (N, V) materialised, ``kd_loss(s, t, "jsd")`` (closed-form gradient)
  chunked     the same logits, ``kd_loss(..., chunk_size=C)``
  fused       ``FusedLinearKDLoss("jsd", chunk_size=C)``: logits C rows at a time
  liger       ``LigerFusedLinearJSDLoss(weight_hard_loss=0, weight_soft_loss=1, compiled=False)``
  trl         ``GKDTrainer.generalized_jsd_loss`` on materialised logits
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

H = 256
# glibc serves allocations below its (self-raising, up to 32 MB) mmap threshold from heaps it keeps
# after free: the peak RSS would then count allocator retention, which penalises every chunked
# method. A fixed 256 kB threshold maps each tensor buffer separately and unmaps it when freed.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "262144"}
METHODS = ("dense", "chunked", "fused", "liger", "trl")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _run_one(method: str, n: int, vocab: int, chunk: int, repeats: int) -> dict:
    """One configuration, after the same code ran once on tiny inputs (so that the libraries' lazily
    loaded code and first-use buffers are not counted as the loss's memory)."""
    _step(method, 16, 64, chunk)[0]()
    step, params = _step(method, n, vocab, chunk)
    base = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    loss = step()
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_mb() - base
    times, cpu = [], []
    for _ in range(repeats):
        for p in params:
            p.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"method": method, "n": n, "vocab": vocab, "chunk": chunk, "peak_mb": peak,
            "loss": float(loss.detach()), "time_s": statistics.median(times) if times else first,
            "cpu_s": statistics.median(cpu) if cpu else first_cpu, "first_s": first}


def _step(method: str, n: int, vocab: int, chunk: int):
    """The inputs of one configuration and a function running one forward + backward on them."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch

    torch.set_num_threads(1)
    from kdviz.losses import FusedLinearKDLoss, kd_loss

    g = torch.Generator().manual_seed(0)
    h = torch.randn(n, H, generator=g).requires_grad_(True)
    w = (0.05 * torch.randn(vocab, H, generator=g)).requires_grad_(True)
    th, tw = torch.randn(n, H, generator=g), 0.05 * torch.randn(vocab, H, generator=g)
    labels = torch.randint(0, vocab, (n,), generator=g)
    labels[-n // 10:] = -100  # a tenth of the positions are padding

    if method in ("dense", "chunked", "trl"):
        if method == "trl":
            from trl.experimental.gkd.gkd_trainer import GKDTrainer

            loss_fn = lambda s, t: GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=0.5)  # noqa: E731
        else:
            size = chunk if method == "chunked" else None
            loss_fn = lambda s, t: kd_loss(s, t, "jsd", labels=labels, chunk_size=size)  # noqa: E731

        def step():
            s = h @ w.T  # (N, V)
            with torch.no_grad():
                t = th @ tw.T  # (N, V)
            loss = loss_fn(s, t)
            loss.backward()
            return loss
    else:
        if method == "fused":
            module = FusedLinearKDLoss("jsd", chunk_size=chunk)
        else:
            from liger_kernel.chunked_loss import LigerFusedLinearJSDLoss

            module = LigerFusedLinearJSDLoss(weight_hard_loss=0.0, weight_soft_loss=1.0, compiled=False)

        def step():
            loss = module(h, w, th, tw, labels)
            loss.backward()
            return loss
    return step, (h, w)


def measure(method, n, vocab, chunk, repeats) -> dict:
    argv = [sys.executable, __file__, "--one", method, str(n), str(vocab), str(chunk), str(repeats)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=os.environ | MALLOC_ENV)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256x32000,256x128256,1024x32000,1024x128256", help="NxV,...")
    ap.add_argument("--chunk", type=int, default=None, help="chunk rows (default: the fused loss's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sweep", action="store_true", help="sweep the fused chunk size at the last size")
    ap.add_argument("--sweep-only", action="store_true", help="the sweep without the table")
    ap.add_argument("--chunks", type=lambda s: [int(c) for c in s.split(",")],
                    default=[64, 128, 256, 512, 1024], help="chunk sizes of the sweep")
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        method, n, vocab, chunk, repeats = args.one
        print(json.dumps(_run_one(method, int(n), int(vocab), int(chunk), int(repeats))))
        return
    from kdviz.losses.fused import DEFAULT_CHUNK_SIZE

    chunk = args.chunk or DEFAULT_CHUNK_SIZE
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    print(f"fp32 CPU, H = {H}, one thread, chunk = {chunk} rows; peak MB above the inputs; wall and CPU "
          f"(process) seconds, medians of {args.repeats} runs\n")
    if not args.sweep_only:
        print("| N | V | method | peak MB | x dense | time s | CPU s | CPU x dense |")
        print("|---|---|---|---|---|---|---|---|")
        for n, vocab in sizes:
            rows = [measure(m, n, vocab, chunk, args.repeats) for m in METHODS]
            d = rows[0]
            for r in rows:
                mem, cpu = r["peak_mb"] / d["peak_mb"], r["cpu_s"] / d["cpu_s"]
                print(f"| {n} | {vocab} | {r['method']} | {r['peak_mb']:.0f} | {mem:.2f} | "
                      f"{r['time_s']:.2f} | {r['cpu_s']:.2f} | {cpu:.2f} |", flush=True)
    if args.sweep or args.sweep_only:
        n, vocab = sizes[-1]
        print(f"\nfused chunk size at N = {n}, V = {vocab}\n")
        print("| chunk | peak MB | time s | CPU s |\n|---|---|---|---|")
        for c in args.chunks:
            r = measure("fused", n, vocab, c, args.repeats)
            print(f"| {c} | {r['peak_mb']:.0f} | {r['time_s']:.2f} | {r['cpu_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
