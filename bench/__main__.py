"""``python -m bench``: every figure against its floor, measured in the same run.

    python3 tasks.py bench                          # everything (about 3 minutes), in .venv
    python3 tasks.py bench --skip sam,scale         # quicker: no `sam build`, no 50-resource run
    python3 tasks.py bench --reps 25 --json bench.json

Sections: ``calls`` (AWS calls and warm latency per event), ``cold`` (cold start and peak
memory), ``sam`` (artifact size), ``imports`` (cold-import cost per dependency), ``scale``
(50 resources at once against ECS's throttle). See docs/performance.md.
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
CALL_TARGETS = {"Create": 8, "Update (no-op)": 4, "Delete": 6}
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
        # Each repetition runs the four variants back to back: the median of the per-repetition
        # ratios cancels the machine's drift better than the ratio of the medians.
        samples = cold["samples_ms"]

        def paired(name: str, floor_name: str) -> tuple[float, float, float]:
            ratios = [p / f for p, f in zip(samples[name], samples[floor_name], strict=True)]
            return median(ratios), percentile(ratios, 25), percentile(ratios, 75)

        rows = [
            (
                f"1. Cold start to response delivered, {coldstart.PRODUCT}",
                coldstart.PRODUCT,
                coldstart.FLOOR,
                True,
            ),
            (
                f"1. Cold start to response delivered, {coldstart.PRODUCT_TRACED}",
                coldstart.PRODUCT_TRACED,
                coldstart.FLOOR,
                True,
            ),
            (
                "1. (as deployed, against the floor that also makes the Create's calls and PUT)",
                coldstart.PRODUCT,
                coldstart.FLOOR_CALLS,
                False,
            ),
        ]
        for label, name, floor_name, targeted in rows:
            ratio, low, high = paired(name, floor_name)
            table.add(
                label,
                f"{cold[name]['total_s'] * 1000:.0f} ms",
                f"{cold[floor_name]['total_s'] * 1000:.0f} ms",
                f"{ratio:.2f}x (IQR {low:.2f}-{high:.2f})",
                "≤ 1.15x" if targeted else "",
                _verdict(ratio <= 1.15) if targeted else "",
            )
        details.append(
            f"Cold start: Python {cold['python']}, Lambda-like layout (bench/lambda_layout.py); "
            "median ms: interpreter start, import (floors: + creating the clients), work:"
        )
        for name in coldstart.VARIANTS:
            c = cold[name]
            details.append(
                f"  {name:44} start {c['startup_s'] * 1000:5.0f}"
                f"  import {c['import_s'] * 1000:5.0f}  work {c['work_s'] * 1000:5.0f}"
                f"  total {c['total_s'] * 1000:5.0f}"
            )
        details.append(
            f"  clients: {', '.join(cold['services'])}; the cold Create's calls: "
            + " → ".join(cold["calls"])
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
        target = CALL_TARGETS.get(name)
        extra = f", {event['writes']} writes"
        ok = target is None or (
            count <= target and (name != "Update (no-op)" or event["writes"] == 0)
        )
        table.add(
            f"3. AWS calls, {name}",
            f"{count}{extra}",
            "",
            "",
            f"≤ {target}" + (", no write" if name == "Update (no-op)" else "") if target else "",
            _verdict(ok) if target else "",
        )
    details.append(
        "AWS calls per event (botocore before-call; (Code) = the call answered an error):"
    )
    for name, event in events.items():
        details.append(f"  {name:18} {' → '.join(event['calls'])}")
    delete = events["Delete"]
    details.append(
        f"Sleeps during Delete: {delete['sleeps']} calls, {delete['sleep_s']:.2f} s in total "
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
        cold = raw["cold"]
        count = len(cold["calls"])
        table.add(
            "3. AWS calls, Create in a cold container",
            f"{count}",
            "",
            "",
            "≤ 8",
            _verdict(count <= CALL_TARGETS["Create"]),
        )
        rss = cold[coldstart.PRODUCT]["maxrss_mib"]
        floor_rss = cold[coldstart.FLOOR_CALLS]["maxrss_mib"]
        table.add(
            "6. Peak RSS of one cold invocation",
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
