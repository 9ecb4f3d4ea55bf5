"""The emulator in its own process, so its request handling does not share the benchmark's GIL.

``python -m bench.emulator [--ecs-throttle]`` prints its endpoint URL and serves on 127.0.0.1
until stdin closes (or SIGTERM). :class:`EmulatorProcess` starts and stops one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import urllib.request
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator")
    parser.add_argument("--ecs-throttle", action="store_true", help="emulate ECS's limits")
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # moto warns that ThrottlingException is not in ECS's model: real ECS sends it anyway.
    warnings.filterwarnings("ignore", message=r"Exception\(ThrottlingException\)")

    from tests.support import ecs_throttle
    from tests.support.emulator import start_server

    if args.ecs_throttle:
        ecs_throttle.install(burst=args.burst, rate=args.rate)
    emulator = start_server()
    print(emulator.endpoint_url, flush=True)
    try:
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    finally:
        emulator.stop()
    return 0


def reset(endpoint_url: str) -> None:
    """moto's own reset: every backend empty (the App Mesh extension and throttle stay)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        json.loads(response.read() or b"{}")


class EmulatorProcess:
    """``with EmulatorProcess() as emu:`` → ``emu.endpoint_url``; ``emu.reset()`` empties it."""

    def __init__(self, *, ecs_throttle: bool = False) -> None:
        self.ecs_throttle = ecs_throttle
        self.endpoint_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "bench.emulator"]
        if self.ecs_throttle:
            command.append("--ecs-throttle")
        self._process = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'handler'}"},
        )
        stdout: IO[str] | None = self._process.stdout
        line = stdout.readline().strip() if stdout is not None else ""
        if not line.startswith("http://127.0.0.1:"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator did not start (said {line!r})")
        self.endpoint_url = line
        return self

    def reset(self) -> None:
        reset(self.endpoint_url)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
