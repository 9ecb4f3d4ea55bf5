"""Service Connect mode's own property (DESIGN §8): ``ServiceConnect``. Parsed in every mode
(validated, and inert in another) through this mode's spec; read with ``service_connect(props)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from meshed_crystal import rules
from meshed_crystal.errors import Collector
from meshed_crystal.properties import Properties, _optional
from meshed_crystal.scalars import as_object, as_port, as_str, fail, join, quote

MODE = "ServiceConnect"


_NAMESPACE_ARN = re.compile(
    r"^arn:aws[a-z-]*:servicediscovery:[a-z0-9-]+:\d{12}:namespace/(?P<id>ns-[A-Za-z0-9]+)$"
)


class ServiceConnectSettings(NamedTuple):
    """DESIGN §8; None: the mode's default, derived from the other properties."""

    port_name: str | None = None
    discovery_name: str | None = None
    client_alias_dns_name: str | None = None
    client_alias_port: int | None = None
    namespace: str | None = None  # a name, or an ARN's namespace id (ns-...)
    namespace_is_id: bool = False


def _service_connect(value: Any) -> ServiceConnectSettings:
    if value is None:
        return ServiceConnectSettings()
    path = "ServiceConnect"
    item = as_object(value, path, ["PortName", "DiscoveryName", "ClientAlias", "Namespace"])
    found = Collector()
    port_name = found.run(
        lambda: _optional(item, "PortName", lambda v, _: _port_name(v, join(path, "PortName"))),
        None,
    )
    discovery = found.run(
        lambda: _optional(
            item, "DiscoveryName", lambda v, _: _port_name(v, join(path, "DiscoveryName"))
        ),
        None,
    )
    dns_name, alias_port = found.run(lambda: _client_alias(item, path), (None, None))
    namespace, is_id = found.run(lambda: _namespace(item, path), (None, False))
    found.raise_any()
    return ServiceConnectSettings(port_name, discovery, dns_name, alias_port, namespace, is_id)


def _client_alias(item: Mapping[str, Any], path: str) -> tuple[str | None, int | None]:
    dns_name, alias_port = None, None
    if item.get("ClientAlias") is not None:
        alias_path = join(path, "ClientAlias")
        alias = as_object(item["ClientAlias"], alias_path, ["DnsName", "Port"])
        if alias.get("DnsName") is not None:
            dns_name = as_str(alias["DnsName"], join(alias_path, "DnsName"))
            rules.check_client_alias(dns_name, join(alias_path, "DnsName"))
        if alias.get("Port") is not None:
            alias_port = as_port(alias["Port"], join(alias_path, "Port"))
    return dns_name, alias_port


def _namespace(item: Mapping[str, Any], path: str) -> tuple[str | None, bool]:
    namespace, is_id = None, False
    if item.get("Namespace") is not None:
        namespace = as_str(item["Namespace"], join(path, "Namespace"), max_len=1024)
        if namespace.startswith("arn:"):
            match = _NAMESPACE_ARN.match(namespace)
            if not match:
                fail(
                    join(path, "Namespace"),
                    f"{quote(namespace)} is not a Cloud Map namespace ARN "
                    "(arn:aws:servicediscovery:<region>:<account>:namespace/ns-…)",
                )
            namespace, is_id = match["id"], True
    return namespace, is_id


def _port_name(value: Any, path: str) -> str:
    text = as_str(value, path)
    rules.check_port_name(text, path)
    return text


def parse(props: Mapping[str, Any], found: Collector, active: bool) -> ServiceConnectSettings:
    """This mode's property (nothing in it is required); every mistake goes to ``found``."""
    settings: ServiceConnectSettings = found.run(
        lambda: _service_connect(props.get("ServiceConnect")), ServiceConnectSettings()
    )
    return settings


def service_connect(props: Properties) -> ServiceConnectSettings:
    """Service Connect mode's settings of a parsed resource."""
    found: ServiceConnectSettings = props.settings.get(MODE, ServiceConnectSettings())
    return found
