"""ECS's RegisterTaskDefinition rules for the local emulator, independent of the provider's checks.

moto 5.2 registers almost any task definition. With :func:`install`, ``RegisterTaskDefinition``
first refuses what ECS refuses at register time, with ECS's error shape (``ClientException``,
HTTP 400), so what the emulator accepts and AWS would refuse cannot pass a test unnoticed
(DESIGN §2). This module deliberately shares no code with ``meshed_crystal``: a rule written
twice, from the same AWS page, catches a mistake in either.

The rules and their sources ("model": botocore's ECS ``service-2.json`` documentation strings;
"guide": the Amazon ECS Developer Guide). Messages marked *real* are ECS's own as AWS documents
them or as users quote them; the others are approximations, and tests pin only the rule:

1. Fargate (``requiresCompatibilities`` has ``FARGATE``, even with ``EC2``) requires task-level
   ``cpu`` and ``memory`` from the guide's table "Task CPU and memory" (model, ``memory``).
   *Real*: "Invalid 'cpu' setting for task." (guide, "Troubleshoot Amazon ECS task definition
   invalid CPU or memory errors"); "Fargate requires that 'cpu' be defined at the task level."
2. Fargate supports the ``awsvpc`` network mode only (guide, Fargate task networking). *Real*:
   "Fargate only supports network mode 'awsvpc'."
3. ``awslogs`` on Fargate or external instances needs ``executionRoleArn`` (guide, "Amazon ECS
   task execution IAM role"). *Real*: "Fargate requires task definition to have execution role
   ARN to support log driver awslogs." (ECS refuses it on EXTERNAL too: an approximation.)
4. ``family`` and container names: up to 255 letters, digits, ``_`` and ``-`` (model); images: up
   to 255 of letters, digits, ``- _ : . / #``, or ``<repository>@sha256:<64 hex>`` (model);
   at most 10 containers per task definition (Amazon ECS service quotas, not adjustable);
   container names unique in the task definition.
5. ``dependsOn[].containerName`` and ``links`` (``name`` or ``name:alias``) name containers of the
   task definition; ``links`` only with the ``bridge`` network mode (model, ``links``).
6. ``proxyConfiguration.containerName`` names a container of the task definition (model:
   "The name of the container that will serve as the App Mesh proxy").
7. Tags: at most 50, keys 1-128 and values 0-256 characters, keys unique (model, ``tags``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from moto.ecs.exceptions import EcsClientException
from moto.ecs.responses import EC2ContainerServiceResponse

_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_IMAGE: Final = re.compile(r"^[A-Za-z0-9_:./#-]{1,255}$")
_IMAGE_DIGEST: Final = re.compile(r"^[A-Za-z0-9_:./#-]{1,255}@sha256:[A-Fa-f0-9]{64}$")
MAX_CONTAINERS: Final = 10
MAX_TAGS: Final = 50
# Guide, "Task CPU and memory": CPU units -> the memory sizes (MiB) Fargate offers with them.
FARGATE_SIZES: Final[Mapping[int, frozenset[int]]] = {
    256: frozenset({512, 1024, 2048}),
    512: frozenset({1024, 2048, 3072, 4096}),
    1024: frozenset(range(2048, 8192 + 1, 1024)),
    2048: frozenset(range(4096, 16384 + 1, 1024)),
    4096: frozenset(range(8192, 30720 + 1, 1024)),
    8192: frozenset(range(16384, 61440 + 1, 4096)),
    16384: frozenset(range(32768, 122880 + 1, 8192)),
}
_CPU: Final = re.compile(r"^\s*(?:(\d+)|(\d+(?:\.\d+)?)\s*vcpu)\s*$", re.IGNORECASE)
_MEMORY: Final = re.compile(r"^\s*(?:(\d+)|(\d+(?:\.\d+)?)\s*gb)\s*$", re.IGNORECASE)

_install_lock = threading.Lock()
_original: Callable[..., Any] | None = None


def _amount(pattern: re.Pattern[str], value: Any) -> int | None:
    match = pattern.match(str(value))
    if not match:
        return None
    return int(match[1]) if match[1] else round(float(match[2]) * 1024)


def check(request: Mapping[str, Any]) -> None:
    """Raise ECS's ClientException for the first rule the request breaks."""
    family = request.get("family")
    containers: list[Mapping[str, Any]] = list(request.get("containerDefinitions") or [])
    compatibilities = set(request.get("requiresCompatibilities") or [])
    network_mode = request.get("networkMode")
    if not isinstance(family, str) or not _NAME.match(family):
        raise EcsClientException(
            "Family must be up to 255 letters (uppercase and lowercase), numbers, hyphens, "
            "and underscores."
        )
    if len(containers) > MAX_CONTAINERS:
        raise EcsClientException(
            f"Too many containers: a task definition can have at most {MAX_CONTAINERS}."
        )
    names = [str(c.get("name", "")) for c in containers]
    for container in containers:
        name, image = str(container.get("name", "")), str(container.get("image", ""))
        if not _NAME.match(name):
            raise EcsClientException(
                "Container name must be up to 255 letters (uppercase and lowercase), numbers, "
                "hyphens, and underscores."
            )
        if names.count(name) > 1:
            raise EcsClientException(f"Duplicate container name '{name}' in the task definition.")
        if not (_IMAGE.match(image) or _IMAGE_DIGEST.match(image)):
            raise EcsClientException(f"Invalid image reference for container '{name}'.")
        for dependency in container.get("dependsOn") or []:
            if dependency.get("containerName") not in names:
                raise EcsClientException(
                    f"Container '{name}' depends on container "
                    f"'{dependency.get('containerName')}', which is not in the task definition."
                )
        links = container.get("links") or []
        if links and network_mode not in (None, "bridge"):
            raise EcsClientException("Links are only supported with the bridge network mode.")
        for link in links:
            if str(link).split(":", 1)[0] not in names:
                raise EcsClientException(
                    f"Container '{name}' links to '{link}', which is not in the task definition."
                )
    proxy = request.get("proxyConfiguration")
    if proxy and proxy.get("containerName") not in names:
        raise EcsClientException(
            f"The proxy configuration's container '{proxy.get('containerName')}' is not in "
            "the task definition."
        )
    if "FARGATE" in compatibilities:
        _check_fargate(request, network_mode)
    awslogs = any(
        (c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in containers
    )
    if (
        awslogs
        and compatibilities & {"FARGATE", "EXTERNAL"}
        and not request.get("executionRoleArn")
    ):
        raise EcsClientException(
            "Fargate requires task definition to have execution role ARN to support log "
            "driver awslogs."
        )
    _check_tags(request.get("tags") or [])


def _check_fargate(request: Mapping[str, Any], network_mode: Any) -> None:
    if network_mode != "awsvpc":
        raise EcsClientException("Fargate only supports network mode 'awsvpc'.")
    for key in ("cpu", "memory"):
        if request.get(key) is None:
            raise EcsClientException(f"Fargate requires that '{key}' be defined at the task level.")
    cpu = _amount(_CPU, request["cpu"])
    memory = _amount(_MEMORY, request["memory"])
    if cpu is None or cpu not in FARGATE_SIZES:
        raise EcsClientException("Invalid 'cpu' setting for task.")
    if memory not in FARGATE_SIZES[cpu]:
        raise EcsClientException("Invalid 'memory' setting for task.")


def _check_tags(tags: list[Mapping[str, Any]]) -> None:
    if len(tags) > MAX_TAGS:
        raise EcsClientException(f"A resource can have at most {MAX_TAGS} tags.")
    keys: set[str] = set()
    for tag in tags:
        key, value = str(tag.get("key", "")), str(tag.get("value", ""))
        if not 1 <= len(key) <= 128:
            raise EcsClientException("Tag keys must be 1-128 characters.")
        if len(value) > 256:
            raise EcsClientException("Tag values must be at most 256 characters.")
        if key in keys:
            raise EcsClientException(f"Duplicate tag key '{key}'.")
        keys.add(key)


def _register_task_definition(self: EC2ContainerServiceResponse) -> Any:
    request = {
        key: self._get_param(key)
        for key in (
            "family",
            "containerDefinitions",
            "requiresCompatibilities",
            "networkMode",
            "cpu",
            "memory",
            "executionRoleArn",
            "proxyConfiguration",
            "tags",
        )
    }
    check(request)
    assert _original is not None
    return _original(self)


def install() -> None:
    """Check ECS's register-time rules in moto, in-process (``mock_aws``) and in server mode.

    Idempotent; patches moto's ``EC2ContainerServiceResponse.register_task_definition``, which
    both paths answer with.
    """
    global _original
    with _install_lock:
        if _original is None:
            _original = EC2ContainerServiceResponse.register_task_definition
            EC2ContainerServiceResponse.register_task_definition = (  # type: ignore[method-assign]
                _register_task_definition
            )
