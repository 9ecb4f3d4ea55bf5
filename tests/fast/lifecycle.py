"""The fast tier's vocabulary (as tests/integration/lifecycle.py is the integration tier's), and
CloudFormation as it plays it: the lifecycle's calls in CloudFormation's order, on the in-memory
fakes (tests/support/fakes.py), through the Provider's constructor seam. (``Stack`` here is one
resource's requests; tests/support/stack.py plays whole templates through the handler.)

What the slow tier's driver (tests/support/cfn_driver.py) does through the Lambda handler, an
HTTPS endpoint and the emulator, minus the protocol (crhelper, the PUT): that is proven there.
Properties are CloudFormation's strings (``stringify``), and a failed Create answers with the id
it announced, or the fallback id, as ``app`` does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshed_crystal.actions import Provider, Request, Result

from tests.support.cfn_driver import stringify
from tests.support.fakes import FakeAws

EVENTS = Path(__file__).resolve().parents[2] / "events"
ENVOY_IMAGE = "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod"
LOGICAL = "Crystal"
NODE = "ecsdemo-crystal"
SERVICE = "ecsdemo-crystal.service.local"
FAMILY = "ecsdemo-crystal-mesh"
SC_FAMILY = "ecsdemo-crystal-sc"


def event_properties(name: str) -> dict[str, Any]:
    """The ResourceProperties of a shipped event (events/), exactly as CloudFormation sends."""
    return dict(json.loads((EVENTS / name).read_text())["ResourceProperties"])


def workshop(**changes: Any) -> dict[str, Any]:
    """events/create.json's properties with ``changes`` (``None`` removes one), as strings."""
    props = event_properties("create.json")
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return dict(stringify(props))


def connected(**changes: Any) -> dict[str, Any]:
    """The workshop's properties with the one changed line, ``Mode: ServiceConnect``."""
    return workshop(Mode="ServiceConnect", **changes)


def provider(aws: FakeAws, *, retired: str = "auto", **settings: Any) -> Provider:
    return Provider(
        appmesh=aws.appmesh,
        ecs=aws.ecs,
        cloudmap=aws.cloudmap,
        cloudformation=aws.cloudformation,
        tagging=aws.tagging,
        envoy_image=settings.pop("envoy_image", ENVOY_IMAGE),
        retired=retired,
        **settings,
    )


class Stack:
    """One stack: the id it holds per logical id (what DescribeStackResource answers, in the
    fakes' CloudFormation) and the properties it last sent."""

    def __init__(self, aws: FakeAws, handler: Provider, name: str = "crystal-stack") -> None:
        self.aws, self.provider = aws, handler
        self.stack_id = (
            f"arn:aws:cloudformation:{aws.region}:{aws.account}:stack/{name}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
        )
        self.properties: dict[str, dict[str, Any]] = {}

    def physical_id(self, logical_id: str = LOGICAL) -> str:
        return self.aws.stack_resources[(self.stack_id, logical_id)]

    def _hold(self, logical_id: str, physical_id: str, props: Mapping[str, Any]) -> None:
        with self.aws.lock:
            self.aws.stack_resources[(self.stack_id, logical_id)] = physical_id
        self.properties[logical_id] = dict(props)

    def request(
        self,
        logical_id: str,
        props: Mapping[str, Any] | None,
        *,
        physical_id: str | None = None,
        old: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Request:
        return Request(
            stack_id=self.stack_id,
            logical_id=logical_id,
            request_id=request_id or str(uuid.uuid4()),
            properties=None if props is None else dict(props),
            physical_id=physical_id,
            old_properties=None if old is None else dict(old),
            region=self.aws.region,
            account=self.aws.account,
        )

    def create(self, props: Mapping[str, Any], logical_id: str = LOGICAL) -> Result:
        return self.send_create(self.request(logical_id, props))

    def send_create(self, request: Request) -> Result:
        """A Create; on failure the stack keeps the id the FAILED response carries (for the
        Delete CloudFormation sends next), and the error goes on to the test."""
        announced: list[str] = []
        try:
            result = self.provider.create(request, announce=announced.append)
        except Exception:
            failed_id = announced[-1] if announced else request.fallback_id()
            self._hold(request.logical_id, failed_id, request.properties or {})
            raise
        self._hold(request.logical_id, result.physical_id, request.properties)
        return result

    def update(
        self,
        props: Mapping[str, Any],
        *,
        old: Mapping[str, Any] | None = None,
        logical_id: str = LOGICAL,
    ) -> Result:
        """An Update of the id the stack holds (``old``: the properties it last sent). A new
        id in the answer is a replacement: the stack holds it from now on."""
        request = self.request(
            logical_id,
            props,
            physical_id=self.physical_id(logical_id),
            old=old if old is not None else self.properties[logical_id],
        )
        result = self.provider.update(request)
        self._hold(logical_id, result.physical_id, props)
        return result

    def revert_to(
        self, physical_id: str, props: Mapping[str, Any], logical_id: str = LOGICAL
    ) -> None:
        """A stack update failed after a replacement: the stack holds the old id again (no
        event for that), and then deletes the new one."""
        self._hold(logical_id, physical_id, props)

    def delete(self, physical_id: str | None = None, logical_id: str = LOGICAL) -> None:
        """The Delete of ``physical_id`` (default: the id the stack holds, which then leaves
        the stack, as CloudFormation's stack deletion)."""
        held = physical_id is None
        target = self.physical_id(logical_id) if physical_id is None else physical_id
        self.provider.delete(
            self.request(logical_id, self.properties.get(logical_id), physical_id=target)
        )
        if held:
            with self.aws.lock:
                self.aws.stack_resources.pop((self.stack_id, logical_id), None)
