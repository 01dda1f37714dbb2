"""The lab's default run against issue 12's target (at most 90 s on 2 cores), and where its time goes.

    python benchmarks/lab_speed.py                      # 3 default runs, then the split of one step
    python benchmarks/lab_speed.py --runs 1 --split-steps 50
    python benchmarks/lab_speed.py --baseline /work/main --steps 100   # against another checkout

1. The command a user types, ``python -m kdviz lab run --divergences fkl,rkl,akl --steps 300 --seed 0``,
   each run a fresh interpreter storing into a temporary data folder. Prints per run and as medians:
   wall seconds, CPU seconds (user + system of the child), and the student tokens/s the command prints.
   With ``--baseline``, runs of that checkout alternate with this one's, and the medians of the
   per-pair ratios (this / baseline) follow.
2. The split (``--split-steps`` steps of the default configuration, in this process, on the run's
   torch threads): median wall and CPU milliseconds of each part of a training step (the teacher's
   forward, then per student its forward, ``kd_loss``, backward and AdamW step), of one held-out
   evaluation, one student's samples and their teacher NLL, and the teacher's references; then those
   parts scaled to the default run (300 steps, 11 evaluations per student and the untrained one, four
   sample sets), to compare with part 1.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdviz.lab import data, metrics, train  # noqa: E402
from kdviz.lab.model import GPT  # noqa: E402
from kdviz.losses import kd_loss  # noqa: E402
from kdviz.numerics import torch_threads  # noqa: E402

TARGET_S = 90.0
TOKENS = re.compile(r"([\d,]+) student tokens/s")


def run_cli(root: Path, steps: int) -> tuple[float, float, float]:
    """Wall s, CPU s and the printed student tokens/s of one default run of the checkout ``root`` in a
    fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "kdviz", "lab", "run", "--divergences", "fkl,rkl,akl", "--steps", str(steps),
           "--seed", "0", "--device", "cpu"]
    with tempfile.TemporaryDirectory() as folder:
        env["KDVIZ_DATA"] = folder
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, float(TOKENS.search(out.stderr).group(1).replace(",", ""))


class Clock:
    """Wall and CPU time per named part, over repeats."""

    def __init__(self):
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, name: str, fn):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        self.wall.setdefault(name, []).append(time.perf_counter() - w)
        self.cpu.setdefault(name, []).append(time.process_time() - c)
        return out

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.wall[name]), statistics.median(self.cpu[name])


def split(n_steps: int) -> None:
    cfg = train.LabConfig()
    clock = Clock()
    clock("references", lambda: train._references("cpu", cfg.eval_windows, cfg.n_samples, cfg.prompt_len,
                                                   cfg.sample_len, cfg.seed))
    teacher, windows, held_out, _, _ = train._references("cpu", cfg.eval_windows, cfg.n_samples,
                                                        cfg.prompt_len, cfg.sample_len, cfg.seed)
    torch.manual_seed(cfg.seed)
    init = GPT(train.STUDENT_SIZES[cfg.student_size])
    students = [(name, copy.deepcopy(init)) for name in cfg.students]
    opts = [train.optimizer(m, cfg) for _, m in students]
    corpus, gen = data.load_corpus(), torch.Generator().manual_seed(cfg.seed)
    for step in range(n_steps + 1):  # the first step warms up (imports, allocations) and is not counted
        batch = data.random_windows(corpus.train, cfg.batch_size, 64, gen)
        with torch.no_grad():
            t_logits = clock("teacher forward", lambda: teacher(batch[:, :-1]))
        for (name, model), opt in zip(students, opts):
            logits = clock("student forward", lambda: model(batch[:, :-1]))
            loss = clock(f"kd_loss {name}", lambda: kd_loss(logits, t_logits, name))
            clock("backward", loss.backward)
            clock("clip + AdamW", lambda: (torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0),
                                           opt.step(), opt.zero_grad(set_to_none=True)))
        if step == 0:
            clock.wall.clear(), clock.cpu.clear()
    for _ in range(5):
        clock("evaluation (one student)", lambda: train._evaluate(students[0][1], windows, held_out))
        prompts = windows[:cfg.n_samples, :cfg.prompt_len]
        samples = clock("samples (one student)", lambda: students[0][1].generate(
            prompts, cfg.sample_len, generator=torch.Generator().manual_seed(0)))
        clock("teacher NLL + distinct-n", lambda: metrics.sample_metrics(teacher, samples, cfg.prompt_len))
    n, k = cfg.steps, len(cfg.students)
    per_run = {"teacher forward": n, "student forward": n * k, "backward": n * k, "clip + AdamW": n * k,
               **{f"kd_loss {name}": n for name in cfg.students},
               "evaluation (one student)": k * (n // cfg.eval_every + (n % cfg.eval_every > 0)) + 1,
               "samples (one student)": k + 1, "teacher NLL + distinct-n": k + 1}
    total_w = total_c = 0.0
    print(f"\nsplit: medians over {n_steps} steps (5 evaluations and sample sets), "
          f"{torch.get_num_threads()} torch thread(s), scaled to the default run ({n} steps, {k} students)")
    print(f"{'part':<28} {'wall ms':>9} {'CPU ms':>9} {'x per run':>10} {'run wall s':>11} {'run CPU s':>10}")
    for name, times in per_run.items():
        w, c = clock.median(name)
        total_w, total_c = total_w + w * times, total_c + c * times
        print(f"{name:<28} {w * 1e3:9.1f} {c * 1e3:9.1f} {times:10d} {w * times:11.1f} {c * times:10.1f}")
    print(f"{'sum (no start-up, no teacher references)':<49} {total_w:22.1f} {total_c:10.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="default runs (0: the split only)")
    ap.add_argument("--steps", type=int, default=train.LabConfig.steps, help="steps of each run")
    ap.add_argument("--split-steps", type=int, default=20, help="steps timed part by part (0: no split)")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout to alternate with")
    args = ap.parse_args(argv)
    print(f"# default lab run, {args.steps} steps, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    roots = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in roots}
    for i in range(args.runs):
        for name, root in roots.items():
            load = os.getloadavg()[0]
            runs[name].append(run_cli(root, args.steps))
            wall, cpu, tok = runs[name][-1]
            print(f"run {i + 1} {name} ({root}): {wall:.1f} s wall, {cpu:.1f} CPU s, {tok:,.0f} student "
                  f"tokens/s (load before {load:.1f})", flush=True)
    for name, rs in runs.items():
        if rs:
            wall, cpu, tok = (statistics.median(r[i] for r in rs) for i in range(3))
            verdict = "met" if wall <= TARGET_S else "NOT met"
            print(f"{name}: median of {len(rs)}: {wall:.1f} s wall, {cpu:.1f} CPU s, {tok:,.0f} student "
                  f"tokens/s; target <= {TARGET_S:.0f} s wall: {verdict}")
    if args.baseline and args.runs:
        ratios = [[t[i] / b[i] for t, b in zip(runs["this"], runs["baseline"])] for i in range(2)]
        print(f"this / baseline, median of per-pair ratios: wall {statistics.median(ratios[0]):.2f}, "
              f"CPU {statistics.median(ratios[1]):.2f}")
    if args.split_steps:
        with torch_threads(train.TORCH_THREADS):
            split(args.split_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
