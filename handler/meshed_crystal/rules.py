"""The value rules that AWS enforces later, each written once, with its source.

The function (``properties``, ``taskdef``, ``service_connect``), ``python3 tasks.py plan`` and
the cfn-lint rules (``lint/``) all reach these through the function's own parsing and checks, so
a rule and its message exist in one place (issue "What AWS would refuse later is refused now",
item 10). Pure: no AWS call, no import of boto3. Each ``check_*`` raises
:class:`~meshed_crystal.errors.PropertyError` naming the path, the rule and its source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import PropertyError, excerpt

_ECS_CONTAINER = "ECS API reference, ContainerDefinition"

# An integer as CloudFormation sends it and ECS reads it: ASCII digits only (int() would also
# take " 7", "1_000" and "²").
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)

# ECS's rule for a container name (RegisterTaskDefinition's ContainerDefinition.name).
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

# ECS's rule for an image reference (ContainerDefinition.image): up to 255 letters, digits, '-',
# '_', ':', '.', '/', '#'; with a digest, the 255 apply before the '@' and the digest is
# sha256:<64 hex digits>.
_IMAGE = re.compile(r"^[A-Za-z0-9_:./#-]{1,255}$")
_IMAGE_DIGEST = re.compile(r"^[A-Za-z0-9_:./#-]{1,255}@sha256:[A-Fa-f0-9]{64}$")

# ECS's rule for a port mapping's name and a Service Connect discovery name (PortMapping.name,
# ServiceConnectService.discoveryName): lowercase letters, digits, '_' and '-', at most 64.
PORT_NAME = re.compile(r"^[a-z0-9_][a-z0-9_-]{0,63}$")

# ECS's rule for a Service Connect client alias (ServiceConnectClientAlias.dnsName): "up to 127
# characters ... lowercase letters, numbers, underscores (_), hyphens (-), and periods (.). The
# name can't start with a hyphen."
CLIENT_ALIAS = re.compile(r"^(?!-)[a-z0-9_.-]{1,127}$")
_CLIENT_ALIAS_SOURCE = "ECS API reference, ServiceConnectClientAlias"

# Envoy's admin interface (ENVOY_ADMIN_ACCESS_PORT, default 9901: App Mesh User Guide, Envoy
# configuration variables); Envoy's container health check reads it.
ENVOY_ADMIN_PORT = 9901
# The proxy's defaults (ECS API reference, ProxyConfiguration: ProxyIngressPort, ProxyEgressPort).
PROXY_INGRESS_PORT = 15000
PROXY_EGRESS_PORT = 15001
# The task metadata and credentials endpoint, and the instance metadata service: egress to them
# must bypass Envoy (AWS's App Mesh proxy configuration for ECS: EgressIgnoredIPs
# 169.254.170.2,169.254.169.254).
METADATA_ADDRESSES = ("169.254.170.2", "169.254.169.254")
# The ECS App Mesh CNI plugin (aws/amazon-vpc-cni-plugins, plugins/aws-appmesh) writes AppPorts
# and EgressIgnoredPorts each into one iptables multiport match, which takes at most 15 ports; it
# logs "multiport limit exceeded, ignoring remaining rules" and the task starts without the rest.
MAX_MULTIPORT = 15
MULTIPORT_SOURCE = "aws/amazon-vpc-cni-plugins, plugins/aws-appmesh: one iptables multiport rule"


def check_container_name(name: str, path: str) -> None:
    if not CONTAINER_NAME.match(name):
        raise PropertyError(
            path,
            f"'{excerpt(name)}' is not a container name ECS takes (1-255 letters, digits, '_', "
            f"'-'; {_ECS_CONTAINER})",
        )


def check_image(image: str, path: str) -> None:
    if not (_IMAGE.match(image) or _IMAGE_DIGEST.match(image)):
        raise PropertyError(
            path,
            f"'{excerpt(image)}' is not an image reference ECS takes (up to 255 letters, digits, "
            "'-', '_', ':', '.', '/', '#', or <repository>@sha256:<64 hex digits>; "
            f"{_ECS_CONTAINER})",
        )


def check_port_name(name: str, path: str) -> None:
    if not PORT_NAME.match(name):
        raise PropertyError(
            path,
            f"'{excerpt(name)}' is not a valid name (ECS: 1-64 lowercase letters, digits, '_' and "
            "'-', not starting with '-')",
        )


def check_client_alias(name: str, path: str) -> None:
    if not CLIENT_ALIAS.match(name):
        raise PropertyError(
            path,
            f"'{excerpt(name)}' is not a client alias ECS takes (1-127 lowercase letters, digits, "
            f"'_', '-' and '.', not starting with '-'; {_CLIENT_ALIAS_SOURCE})",
        )


def client_alias_default(name: str) -> str | None:
    """A default alias made to follow ECS's rule: the name lower-cased (DNS names are
    case-insensitive, so ``MySvc.local`` and ``mysvc.local`` are the same name), or None when
    even that breaks the rule."""
    lowered = name.lower()
    return lowered if CLIENT_ALIAS.match(lowered) else None


def check_multiport(ports: Sequence[int], path: str) -> None:
    if len(ports) > MAX_MULTIPORT:
        raise PropertyError(
            path,
            f"has {len(ports)} ports, more than the {MAX_MULTIPORT} the ECS App Mesh CNI plugin "
            f"applies: it silently drops the rest at task start ({MULTIPORT_SOURCE})",
        )


def envoy_ports(ingress: int, egress: int, admin: int) -> dict[int, str]:
    """Envoy's own ports, each with whose it is: no application port may be one of them."""
    return {
        ingress: f"the proxy's ingress port (Proxy.ProxyIngressPort, {ingress})",
        egress: f"the proxy's egress port (Proxy.ProxyEgressPort, {egress})",
        admin: f"Envoy's admin port ({admin}, ENVOY_ADMIN_ACCESS_PORT; its health check reads it)",
    }
