"""Time ``segscope demo`` end to end and report the held-out mIoU of its trained baseline.

    python benchmarks/bench_demo.py            # the default demo (target: <= 5 min on 2 cores, mIoU >= 0.75)
    python benchmarks/bench_demo.py --quick    # the ~1-minute version

Prints the wall time, the CPU time of the demo process (user + system; on a busy machine
CPU time / cores is a better guess of the wall time on an idle one than the wall time itself),
the ratio of the wall time to the ``--no-train`` demo measured in the same run (data generation
and evaluation only), and the per-class IoU on the held-out scenes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_demo(out: Path, extra: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = "import sys; from segscope.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", code, "demo", "--out", str(out), *extra], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ref_wall, _ = run_demo(out / "no-train", ["--no-train", "--no-report"])
    wall, cpu = run_demo(out / "demo", ["--quick"] if args.quick else [])
    metrics = json.loads((out / "demo" / "results" / "metrics.json").read_text())
    history = json.loads((out / "demo" / "run" / "history.json").read_text())
    print(f"segscope demo{' --quick' if args.quick else ''}: wall {wall:.0f} s, CPU {cpu:.0f} s "
          f"({cores} cores, load average at start {load:.1f}; CPU/cores = {cpu / cores:.0f} s)")
    print(f"ratio to the --no-train demo ({ref_wall:.1f} s): {wall / ref_wall:.1f}x")
    print(f"epochs {len(history)}, best val mIoU {max(h['val_miou'] for h in history):.3f}")
    print(f"held-out mIoU {metrics['miou']:.3f} (pixel accuracy {metrics['pixel_accuracy']:.3f}, "
          f"{metrics['num_images']} scenes)")
    for name, m in sorted(metrics["per_class"].items(), key=lambda kv: kv[1]["iou"]):
        print(f"  {name:11s} IoU {m['iou']:.3f}  share {100 * m['gt_share']:.2f}%")


if __name__ == "__main__":
    main()
