"""Independent AWS calls at once.

A Create reads up to five things before its first write (mesh, Cloud Map, base task definition,
node, service) and none depends on another; one after the other they cost five round trips,
at once about the slowest one. A Delete deregisters its revisions the same way. Each call runs
in the invocation's context (``contextvars``), so it keeps the retry deadline. The pool lives
as long as the container.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

# More than the widest fan-out (four chains): a chain never waits for a free worker.
WORKERS = 6
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def start(fn: Callable[..., T], *args: Any) -> Future[T]:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="meshed-crystal")
    context = contextvars.copy_context()
    return _pool.submit(context.run, fn, *args)


def settle(futures: Iterable[Future[Any] | None]) -> None:
    """Wait for every call, failed or not: none may still run when the response goes out."""
    wait([f for f in futures if f is not None])
