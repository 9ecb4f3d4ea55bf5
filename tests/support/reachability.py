"""Can a client's tasks reach a backend by the name they call? Read from the emulator.

:func:`route` answers for the tasks of the client ECS service's current deployment calling
``<dns name>:<port>``, the way each path works in AWS:

* ``"app-mesh"``: the client's task definition is App Mesh-proxied (``APPMESH`` proxy
  configuration); its virtual node lists the name as a backend; the virtual service of that name
  exists and its provider node discovers, through its Cloud Map service and attribute filter
  (``ECS_TASK_DEFINITION_FAMILY``), tasks that an ECS service registers there.
* ``"app-mesh-passthrough"``: the client is meshed, its node lists **no** backend and the mesh's
  egress filter is ``ALLOW_ALL``: Envoy passes the call through to the address DNS gives (App
  Mesh applies ``ALLOW_ALL`` only to such a node: "If you specify any backends on a virtual node
  when using ALLOW_ALL, you must specify all egress for that virtual node as backends", App Mesh
  API reference, ``EgressFilter``). A meshed node that lists other backends but not this name
  reaches nothing: ``None``.
* ``"service-connect"``: the client's deployment has Service Connect enabled in a namespace in
  which an ECS service publishes a client alias ``<dns name>:<port>``, and that endpoint (the
  Cloud Map service ECS created for it; a redeployment reuses it) existed before the client's
  deployment started ("only new tasks ... that start running after this deployment can resolve
  and connect to this endpoint", ECS developer guide).
* ``"dns"``: otherwise, the Cloud Map service behind the name has DNS records and an ECS service
  registers its tasks there (``ServiceRegistries``).
"""

from __future__ import annotations

from typing import Any

import boto3

PORT = 3000
MESH = "ecs-mesh"


def ecs_service(cluster: str, name: str) -> dict[str, Any]:
    described = boto3.client("ecs").describe_services(cluster=cluster, services=[name])
    return dict(described["services"][0])


def active_services(cluster: str) -> list[dict[str, Any]]:
    ecs = boto3.client("ecs")
    arns = ecs.list_services(cluster=cluster)["serviceArns"]
    if not arns:
        return []
    described = ecs.describe_services(cluster=cluster, services=arns)["services"]
    return [dict(s) for s in described if s["status"] == "ACTIVE"]


def family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _node(name: str, mesh: str) -> dict[str, Any] | None:
    client = boto3.client("appmesh")
    try:
        return dict(
            client.describe_virtual_node(meshName=mesh, virtualNodeName=name)["virtualNode"]
        )
    except client.exceptions.NotFoundException:
        return None


def _virtual_service(name: str, mesh: str) -> dict[str, Any] | None:
    client = boto3.client("appmesh")
    try:
        return dict(
            client.describe_virtual_service(meshName=mesh, virtualServiceName=name)[
                "virtualService"
            ]
        )
    except client.exceptions.NotFoundException:
        return None


def egress_filter(mesh: str = MESH) -> str:
    described: dict[str, Any] = dict(boto3.client("appmesh").describe_mesh(meshName=mesh)["mesh"])
    return str(((described.get("spec") or {}).get("egressFilter") or {}).get("type", "DROP_ALL"))


def _mesh_route(cluster: str, node: dict[str, Any], dns_name: str, mesh: str) -> bool:
    backends = node["spec"].get("backends") or []
    if dns_name not in [b["virtualService"]["virtualServiceName"] for b in backends]:
        return False
    virtual_service = _virtual_service(dns_name, mesh)
    if virtual_service is None:
        return False
    provider = _node(virtual_service["spec"]["provider"]["virtualNode"]["virtualNodeName"], mesh)
    if provider is None:
        return False
    cloud_map = provider["spec"]["serviceDiscovery"]["awsCloudMap"]
    wanted = {a["key"]: a["value"] for a in cloud_map.get("attributes") or []}
    sd = boto3.client("servicediscovery")
    for service in active_services(cluster):
        running = family(service["deployments"][0]["taskDefinition"])
        for registry in service.get("serviceRegistries") or []:
            registered = sd.get_service(Id=registry["registryArn"].rsplit("/", 1)[-1])["Service"]
            if registered["Name"] != cloud_map["serviceName"]:
                continue
            if wanted.get("ECS_TASK_DEFINITION_FAMILY", running) == running:
                return True
    return False


def _alias_route(cluster: str, namespace: str, dns_name: str, started: Any, port: int) -> bool:
    sd = boto3.client("servicediscovery")
    for service in active_services(cluster):
        deployment = service["deployments"][0]
        config = deployment.get("serviceConnectConfiguration") or {}
        if not config.get("enabled") or config.get("namespace") != namespace:
            continue
        created = {
            r["discoveryName"]: r["discoveryArn"]
            for r in deployment.get("serviceConnectResources") or []
        }
        for entry in config.get("services") or []:
            if {"dnsName": dns_name, "port": port} not in entry.get("clientAliases") or []:
                continue
            # The endpoint exists since ECS created its Cloud Map service (a later deployment of
            # the same service reuses it); the client's tasks must have started after that.
            arn = created.get(entry.get("discoveryName") or entry["portName"])
            since = (
                sd.get_service(Id=arn.rsplit("/", 1)[-1])["Service"]["CreateDate"]
                if arn
                else deployment["createdAt"]
            )
            if since < started:
                return True
    return False


def dns_route(cluster: str, cloud_map_arn: str) -> bool:
    sd = boto3.client("servicediscovery")
    try:
        registered = sd.get_service(Id=cloud_map_arn.rsplit("/", 1)[-1])["Service"]
    except sd.exceptions.ServiceNotFound:
        return False
    if not registered.get("DnsConfig", {}).get("DnsRecords"):
        return False
    return any(
        registry["registryArn"] == cloud_map_arn
        for service in active_services(cluster)
        for registry in service.get("serviceRegistries") or []
    )


def route(
    cluster: str,
    client_service: str,
    dns_name: str,
    cloud_map_arn: str,
    *,
    port: int = PORT,
    mesh: str = MESH,
) -> str | None:
    """How the tasks of ECS service ``client_service``'s current deployment reach
    ``dns_name:port`` (whose Cloud Map service is ``cloud_map_arn``): "app-mesh",
    "app-mesh-passthrough", "service-connect", "dns", or None."""
    deployment = ecs_service(cluster, client_service)["deployments"][0]
    described: dict[str, Any] = dict(
        boto3.client("ecs").describe_task_definition(taskDefinition=deployment["taskDefinition"])[
            "taskDefinition"
        ]
    )
    if (described.get("proxyConfiguration") or {}).get("type") == "APPMESH":
        envoy = next(c for c in described["containerDefinitions"] if c["name"] == "envoy")
        env = {e["name"]: e["value"] for e in envoy.get("environment", [])}
        node = _node(env["APPMESH_RESOURCE_ARN"].rsplit("/", 1)[-1], mesh)
        if node is None:
            return None
        if node["spec"].get("backends"):
            return "app-mesh" if _mesh_route(cluster, node, dns_name, mesh) else None
        if egress_filter(mesh) == "ALLOW_ALL" and dns_route(cluster, cloud_map_arn):
            return "app-mesh-passthrough"
        return None
    config = deployment.get("serviceConnectConfiguration") or {}
    if config.get("enabled") and _alias_route(
        cluster, config["namespace"], dns_name, deployment["createdAt"], port
    ):
        return "service-connect"
    return "dns" if dns_route(cluster, cloud_map_arn) else None
