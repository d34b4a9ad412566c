"""plan_restore called from Python at scale, beside a baseline measured in the same run.

Reads the inputs written by `cargo run --release -p pitr-core --example plan_at_scale --
--write DIR` (an info document with 5,000 backup sets across 4 repos) and times
`pitr.plan_restore(spec, request, info=text)` against `json.loads(text)` of the same
document: the least any Python tool must do to look at pgBackRest's output.

    python pitr-py/bench/plan_at_scale.py DIR
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import pitr

RUNS = 15


def vm_hwm_mib() -> float:
    """Peak resident set size of this process, MiB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median_ms(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    directory = Path(sys.argv[1]).resolve()
    info = (directory / "info.json").read_text()
    target = (directory / "target_time").read_text().strip()
    spec = {"pg_cluster": "bench", "node_cpu": 4, "pg_data": str(directory / "no-data")}
    request = {"time": target}
    before = vm_hwm_mib()
    plan = pitr.plan_restore(spec, request, info=info)
    after_one = vm_hwm_mib()
    baseline = median_ms(lambda: json.loads(info))
    ours = median_ms(lambda: pitr.plan_restore(spec, request, info=info))
    print(f"Python: info {len(info) / 1048576:.1f} MiB, 5000 sets over 4 repos; chose {plan.summary['set']}")
    print(f"pitr.plan_restore(spec, request, info=text): median {ours:.1f} ms over {RUNS} runs")
    print(f"json.loads(text) (baseline):                  median {baseline:.1f} ms over {RUNS} runs")
    print(f"ratio plan_restore / json.loads: {ours / baseline:.2f}")
    print(
        f"peak RSS: {after_one:.1f} MiB; before planning (interpreter, module, input read): "
        f"{before:.1f} MiB; planning added {after_one - before:.1f} MiB"
    )


if __name__ == "__main__":
    main()
