"""App Mesh mode's value rules, each once with its source: Envoy's own ports, the proxy's
defaults, the metadata addresses egress must bypass, and the App Mesh CNI plugin's 15-port limit.
(``meshed_crystal.rules`` holds the rules of every mode.)"""

from __future__ import annotations

from collections.abc import Sequence

from meshed_crystal.errors import PropertyError

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
