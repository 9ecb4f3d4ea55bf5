"""Lambda containers, simulated: each one a fresh import of the handler module.

Lambda runs concurrent invocations in separate execution environments, each with its own copy
of the function's module-level state (here: crhelper's ``Resource``, the ``Provider`` and its
clients). :func:`cold_start` imports ``meshed_crystal.app`` afresh, not registered in
``sys.modules``, so two "containers" share nothing but the code and the package modules that
hold no per-invocation state; a thread per container then invokes them at the same moment.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

from meshed_crystal.actions import Provider
from meshed_crystal.adapters.clients import LazyClient

__all__ = ["cold_start"]


def cold_start(envoy_image: str) -> ModuleType:
    """A new container's copy of the handler module, with its AWS clients built.

    The clients are built here, during the "init phase", one container at a time: boto3's
    default session is not safe to build clients from in parallel threads, which separate
    containers never do.
    """
    spec = importlib.util.find_spec("meshed_crystal.app")
    if spec is None or spec.loader is None:
        raise RuntimeError("meshed_crystal.app is not importable")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    provider = Provider(envoy_image=envoy_image)
    for adapter in (provider.appmesh, provider.ecs, provider.cloudmap, provider.cloudformation):
        assert isinstance(adapter, LazyClient)  # the default adapters, not injected ones
        _: Any = adapter.client
    setattr(module, "provider", provider)  # noqa: B010 - a module attribute mypy cannot see
    return module
