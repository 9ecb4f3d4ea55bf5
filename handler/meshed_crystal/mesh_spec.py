"""The App Mesh specs of the virtual node and virtual service (pure).

Shapes follow botocore's App Mesh model (``VirtualNodeSpec``, ``VirtualServiceSpec``), so the
dicts go to boto3 as they are and compare equal to what ``Describe*`` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .properties import Listener, Properties


def node_spec(
    props: Properties, *, ports: tuple[int, ...], namespace_name: str, service_name: str
) -> dict[str, Any]:
    listeners = (
        props.listeners
        if props.listeners is not None
        else tuple(Listener(port=port) for port in ports)
    )
    cloud_map: dict[str, Any] = {"namespaceName": namespace_name, "serviceName": service_name}
    if props.cloud_map_attributes:
        cloud_map["attributes"] = [{"key": k, "value": v} for k, v in props.cloud_map_attributes]
    spec: dict[str, Any] = {
        "listeners": [_listener(listener) for listener in listeners],
        "serviceDiscovery": {"awsCloudMap": cloud_map},
    }
    if props.backends:
        spec["backends"] = [
            {"virtualService": {"virtualServiceName": name}} for name in props.backends
        ]
    if props.access_log_path:
        spec["logging"] = {"accessLog": {"file": {"path": props.access_log_path}}}
    return spec


def _listener(listener: Listener) -> dict[str, Any]:
    result: dict[str, Any] = {
        "portMapping": {"port": listener.port, "protocol": listener.protocol},
    }
    check = listener.health_check
    if check is not None:
        health: dict[str, Any] = {
            "protocol": check.protocol,
            "intervalMillis": check.interval_millis,
            "timeoutMillis": check.timeout_millis,
            "healthyThreshold": check.healthy_threshold,
            "unhealthyThreshold": check.unhealthy_threshold,
        }
        if check.path is not None:
            health["path"] = check.path
        if check.port is not None:
            health["port"] = check.port
        result["healthCheck"] = health
    timeout: dict[str, Any] = {}
    if listener.per_request_seconds is not None:
        timeout["perRequest"] = {"unit": "s", "value": listener.per_request_seconds}
    if listener.idle_seconds is not None:
        timeout["idle"] = {"unit": "s", "value": listener.idle_seconds}
    if timeout:
        result["timeout"] = {listener.protocol: timeout}
    return result


def service_spec(node_name: str) -> dict[str, Any]:
    return {"provider": {"virtualNode": {"virtualNodeName": node_name}}}


def provider_node(spec: Mapping[str, Any]) -> str | None:
    """The virtual node a described virtual service's spec points at, if any."""
    node = (spec.get("provider") or {}).get("virtualNode") or {}
    name = node.get("virtualNodeName")
    return str(name) if name else None
