"""``python -m bench``: every figure against its floor, measured in the same run.

    python3 tasks.py bench                          # everything (about 3 minutes), in .venv
    python3 tasks.py bench --skip sam,scale         # quicker: no `sam build`, no 50-resource run
    python3 tasks.py bench --reps 25 --json bench.json

Sections: ``calls`` (AWS calls and warm latency per event, both modes), ``cold`` (cold start
and peak memory, App Mesh and Service Connect modes), ``sam`` (artifact size), ``imports``
(cold-import cost per dependency), ``scale`` (50 resources at once against ECS's throttle).
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import coldstart, lambda_layout, package
from bench.common import REPO, RUNTIME_PROVIDED, median, percentile
from bench.emulator import EmulatorProcess

SECTIONS = ("calls", "cold", "sam", "imports", "scale")
WORKER_TIMEOUT_S = 900.0
MIB = 1024 * 1024
# Calls per event (None: no cap on the count), and the events that must not write.
CALL_TARGETS: dict[str, int | None] = {
    "Create": 8,
    "Update (no-op)": 4,
    "Delete": 6,
    "SC Create": 7,
    "SC Update (no-op)": None,
}
NO_WRITE = ("Update (no-op)", "SC Update (no-op)")
COLD_CALL_TARGETS = {"App Mesh": 8, "Service Connect": 7}
THROTTLE_BURST, THROTTLE_RATE = 20, 1.0


def _worker(module: str, endpoint_url: str, *args: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "out.json"
        done = subprocess.run(
            [sys.executable, "-m", module, endpoint_url, str(out), *args],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
        if done.returncode or not out.exists():
            raise RuntimeError(f"{module} failed:\n{done.stderr[-3000:]}")
        data: dict[str, Any] = json.loads(out.read_text())
        return data


def _ratio(value: float, floor: float) -> float:
    return value / floor if floor else math.nan


def _paired(product: list[int], floor: list[int]) -> tuple[float, float, float]:
    """Median and interquartile range of the per-repetition ratios."""
    ratios = [p / f for p, f in zip(product, floor, strict=True)]
    return median(ratios), percentile(ratios, 25), percentile(ratios, 75)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def render(self) -> str:
        head = ("Figure", "MeshedCrystal", "Floor", "Ratio", "Target", "")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--reps", type=int, default=15, help="repetitions per figure (median)")
    parser.add_argument("--scale", type=int, default=50, help="resources in the scale run")
    parser.add_argument("--skip", default="", help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, help="also write every raw figure here")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    reps = max(1, args.reps)
    table = Table()
    details: list[str] = []
    raw: dict[str, Any] = {"reps": reps}
    began = time.monotonic()

    # The Lambda-like layout (runtime, layer, function) of the cold starts and import costs.
    scratch = tempfile.TemporaryDirectory(prefix="bench-lambda-")
    layout = lambda_layout.build(Path(scratch.name)) if {"cold", "imports"} - skip else None
    with EmulatorProcess() as emulator:
        latency = _worker("bench.latency", emulator.endpoint_url, str(reps))
        raw["latency"] = latency
        if layout is not None and "cold" not in skip:
            raw["cold"] = coldstart.run(emulator, layout, reps)

    if "cold" in raw:
        cold = raw["cold"]
        details.append(
            f"Cold start: Python {cold['python']}, Lambda-like layout (bench/lambda_layout.py); "
            "median ms: interpreter start, import (floors: + creating the clients), work:"
        )
        for mode, per_mode in cold["modes"].items():
            # Each repetition runs the four variants back to back: the median of the
            # per-repetition ratios cancels the machine's drift better than the ratio of the
            # medians.
            samples: dict[str, list[int]] = per_mode["samples_ms"]

            rows = [
                (
                    f"1. Cold start + Create, {mode}, {coldstart.PRODUCT}",
                    coldstart.PRODUCT,
                    coldstart.FLOOR_CALLS,
                    True,
                ),
                (
                    f"1. Cold start + Create, {mode}, {coldstart.PRODUCT_TRACED}",
                    coldstart.PRODUCT_TRACED,
                    coldstart.FLOOR_CALLS,
                    True,
                ),
                (
                    f"1. ({mode}, as deployed, against the literal floor: imports + clients only)",
                    coldstart.PRODUCT,
                    coldstart.FLOOR,
                    False,
                ),
            ]
            for label, name, floor_name, targeted in rows:
                ratio, low, high = _paired(samples[name], samples[floor_name])
                table.add(
                    label,
                    f"{per_mode[name]['total_s'] * 1000:.0f} ms",
                    f"{per_mode[floor_name]['total_s'] * 1000:.0f} ms",
                    f"{ratio:.2f}x (IQR {low:.2f}-{high:.2f})",
                    "≤ 1.15x" if targeted else "",
                    _verdict(ratio <= 1.15) if targeted else "",
                )
            details.append(f"  {mode}:")
            for name in coldstart.VARIANTS:
                c = per_mode[name]
                details.append(
                    f"    {name:44} start {c['startup_s'] * 1000:5.0f}"
                    f"  import {c['import_s'] * 1000:5.0f}  work {c['work_s'] * 1000:5.0f}"
                    f"  total {c['total_s'] * 1000:5.0f}"
                )
            details.append(
                f"    clients: {', '.join(per_mode['services'])}; the cold Create's "
                f"{len(per_mode['calls'])} calls: " + " → ".join(per_mode["calls"])
            )

    events = latency["events"]
    for name, event in events.items():
        p, f = median(event["product"]), median(event["floor"])
        ratio = _ratio(p, f)
        table.add(
            f"2. Warm latency, {name}",
            f"{p * 1000:.1f} ms",
            f"{f * 1000:.1f} ms",
            f"{ratio:.2f}x",
            "≤ 1.3x",
            _verdict(ratio <= 1.3),
        )
    for name, event in events.items():
        count = len(event["calls"])
        targeted = name in CALL_TARGETS
        target = CALL_TARGETS.get(name)
        no_write = name in NO_WRITE
        ok = (target is None or count <= target) and (not no_write or event["writes"] == 0)
        goal = ", ".join(
            ([f"≤ {target}"] if target is not None else []) + (["no write"] if no_write else [])
        )
        table.add(
            f"3. AWS calls, {name}",
            f"{count}, {event['writes']} writes",
            "",
            "",
            goal,
            _verdict(ok) if targeted else "",
        )
    details.append(
        "AWS calls per event (botocore before-call; (Code) = the call answered an error):"
    )
    for name, event in events.items():
        details.append(f"  {name:18} {' → '.join(event['calls'])}")
    for name in ("Delete", "SC Delete"):
        delete = events[name]
        details.append(
            f"Sleeps during {name}: {delete['sleeps']} calls, {delete['sleep_s']:.2f} s in total "
            f"over {reps} Deletes."
        )

    if "sam" not in skip:
        built = package.sam_build()
        raw["sam"] = built
        if "error" in built:
            details.append(f"sam build failed: {built['error']}")
        else:
            lean = built["unzipped_without_runtime"]
            table.add(
                "4. Package, unzipped, without boto3 & its deps",
                f"{lean / MIB:.2f} MiB",
                "",
                "",
                "≤ 5 MiB",
                _verdict(lean <= 5 * MIB),
            )
            table.add(
                "4. Package, zipped, without boto3 & its deps",
                f"{built['zipped_without_runtime'] / MIB:.2f} MiB",
                "",
                "",
                "",
                "",
            )
            table.add(
                "4. Package as built (unzipped / zipped)",
                f"{built['unzipped'] / MIB:.2f} / {built['zipped'] / MIB:.2f} MiB",
                "",
                "",
                "",
                "",
            )
            details.append("sam build artifact by package (unzipped KiB):")
            for name, size in built["by_package"].items():
                flag = "  (runtime provides it)" if name in RUNTIME_PROVIDED else ""
                details.append(f"  {name:24} {size / 1024:8.0f}{flag}")

    if layout is not None and "imports" not in skip:
        costs = package.import_costs(layout, reps)
        raw["imports"] = costs
        details.append(
            "Cold import, median ms in a fresh interpreter of the Lambda-like layout (each after "
            "`import boto3`; tracing off, the default):"
        )
        for module, seconds in costs.items():
            details.append(f"  {module:32} {seconds * 1000:7.1f}")
        top = package.importtime_top(layout)
        raw["importtime"] = top
        details.append("-X importtime, cumulative ms, what meshed_crystal.app adds to boto3:")
        for module, micros in top:
            details.append(f"  {module:40} {micros / 1000:7.1f}")

    if "cold" in raw:
        for mode, per_mode in raw["cold"]["modes"].items():
            count = len(per_mode["calls"])
            cap = COLD_CALL_TARGETS[mode]
            table.add(
                f"3. AWS calls, {mode} Create in a cold container",
                f"{count}",
                "",
                "",
                f"≤ {cap}",
                _verdict(count <= cap),
            )
        for mode, per_mode in raw["cold"]["modes"].items():
            rss = per_mode[coldstart.PRODUCT]["maxrss_mib"]
            floor_rss = per_mode[coldstart.FLOOR_CALLS]["maxrss_mib"]
            table.add(
                f"6. Peak RSS of one cold invocation, {mode}",
                f"{rss:.0f} MiB",
                f"{floor_rss:.0f} MiB",
                f"{_ratio(rss, floor_rss):.2f}x",
                "MemorySize",
                "see below",
            )

    if "scale" not in skip and args.scale > 0:
        with EmulatorProcess(ecs_throttle=True) as throttled:
            scale = _worker("bench.scale", throttled.endpoint_url, str(args.scale))
        raw["scale"] = scale
        floor_s = max(0.0, (scale["count"] - THROTTLE_BURST) / THROTTLE_RATE)
        ratio = _ratio(scale["wall_s"], floor_s)
        succeeded = scale["statuses"].get("SUCCESS", 0)
        table.add(
            f"5. {scale['count']} concurrent Creates under ECS throttle, wall",
            f"{scale['wall_s']:.1f} s ({succeeded}/{scale['count']} SUCCESS)",
            f"{floor_s:.1f} s",
            f"{ratio:.2f}x",
            "≤ 1.5x, all SUCCESS",
            _verdict(ratio <= 1.5 and succeeded == scale["count"]),
        )
        durations = [d for d in scale["durations"] if not math.isnan(d)]
        table.add(
            "5. per resource p50 / p95",
            f"{percentile(durations, 50):.1f} / {percentile(durations, 95):.1f} s",
            "",
            "",
            "< 600 s timeout",
            _verdict(bool(durations) and max(durations) < 600),
        )
        details.append(f"Scale run: throttled calls retried by code: {scale['retries']}")

    scratch.cleanup()
    print(table.render())
    print()
    print("\n".join(details))
    print(f"\n(run took {time.monotonic() - began:.0f} s; medians of {reps} repetitions)")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
