"""App Mesh gone (DESIGN §9): every way it can be gone, with each AppMeshRetired setting.

The ways are real below botocore (tests/support/appmesh_gone.py): every way a connection fails
before an answer (refused, closed, reset, no answer, not accepted, a name that does not resolve,
TLS), HTTP statuses without an App Mesh error code, IAM's AccessDenied, an SDK without
``appmesh``. For each,
a Delete: what it answers, the one WARNING naming what may be left, the metric, and that nothing
of the resource is left ACTIVE in ECS. A throttled or transient App Mesh error is retried and never
taken for a retired service. App Mesh-mode Creates and Updates fail at once, leaving nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest
from botocore.config import Config
from meshed_crystal import actions, app, retry
from meshed_crystal.adapters import clients
from meshed_crystal.adapters.appmesh import AppMesh

from tests.conftest import ENVOY_IMAGE
from tests.integration import aws_state
from tests.integration.lifecycle import (
    FAMILY,
    LOGICAL,
    NODE,
    SERVICE,
    all_revisions,
    failed,
    fast,
    ok,
    workshop,
)
from tests.integration.test_observability import emf_lines
from tests.support.appmesh_gone import AppMeshGone
from tests.support.cfn_driver import CloudFormation
from tests.support.faults import Faults
from tests.support.platform import Platform

# Every connection-level failure botocore reports (DESIGN §9: "refused, reset or closed, timed
# out, a name that no longer resolves"), each the exception botocore really raises for it.
CONNECTION_FAILURES: dict[str, Callable[[AppMeshGone], None]] = {
    "connection refused": lambda gone: gone.refuse_connections(),  # EndpointConnectionError
    "connection closed": lambda gone: gone.close_connections(),  # ConnectionClosedError
    "connection reset": lambda gone: gone.reset_connections(),  # ConnectionClosedError
    "no answer": lambda gone: gone.answer_nothing(),  # ReadTimeoutError
    "connection not accepted": lambda gone: gone.accept_nothing(),  # ConnectTimeoutError
    "name does not resolve": lambda gone: gone.unresolvable_name(),  # EndpointConnectionError
    "TLS handshake fails": lambda gone: gone.break_tls(),  # SSLError
}
WAYS: dict[str, Callable[[AppMeshGone], None]] = {
    **CONNECTION_FAILURES,
    "HTTP 410 page": lambda gone: gone.answer_status(410),
    "HTTP 404 empty": lambda gone: gone.answer_status(404, b""),
    "HTTP 403 page": lambda gone: gone.answer_status(403),
    "HTTP 503 page, lasting": lambda gone: gone.answer_status(503),
    "AccessDenied": lambda gone: gone.access_denied(),
    "no appmesh in the SDK": lambda gone: gone.no_sdk_service(),
}
SETTINGS = ("auto", "true", "false")


def finishes(setting: str, way: str) -> bool:
    """DESIGN §9: auto finishes unless denied; true always; false never."""
    return setting == "true" or (setting == "auto" and way != "AccessDenied")


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], actions.Provider]:
    """Installs a fresh Provider (no client built yet) with an AppMeshRetired setting, read
    from the environment as the deployed function reads it.

    Its clients time out sooner than the deployed function's (connect 5 s, read 30 s), and
    its backoff starts at 20 ms rather than 200 ms, so that an App Mesh that answers nothing
    costs a test a second or two, not minutes; only App Mesh's calls cross a socket here (the
    other services answer in process). The attempts are the deployed function's.
    """

    def install(setting: str) -> actions.Provider:
        monkeypatch.setattr(
            clients, "CONFIG", clients.CONFIG.merge(Config(connect_timeout=0.5, read_timeout=0.5))
        )
        monkeypatch.setattr(retry, "BASE_DELAY", 0.02)
        monkeypatch.setenv("APPMESH_RETIRED", setting)
        fresh = actions.Provider(
            envoy_image=ENVOY_IMAGE,
            retired=actions.appmesh_retired(os.environ["APPMESH_RETIRED"]),
        )
        monkeypatch.setattr(app, "provider", fresh)
        return fresh

    return install


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "App Mesh" in r.message]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("way", list(WAYS))
def test_delete_when_app_mesh_is_gone(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    provider: Callable[[str], actions.Provider],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    way: str,
    setting: str,
) -> None:
    # Given a resource with two ACTIVE revisions (an in-place update), made while App Mesh was up
    props = workshop(platform)
    first = ok(fast(cfn).create(LOGICAL, props))
    second = ok(cfn.update(LOGICAL, workshop(platform, Envoy={"LogLevel": "debug"})))
    assert aws_state.active_revisions(FAMILY) == sorted(
        [first["TaskDefinitionArn"], second["TaskDefinitionArn"]]
    )
    # When App Mesh is gone in this way, and the provider is set to `setting`
    provider(setting)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    capsys.readouterr()
    caplog.clear()
    answered_before = len(appmesh_gone.answered)
    WAYS[way](appmesh_gone)
    # (with 30 s left: the few attempts a suspected absence gets end well before)
    body = cfn.delete(LOGICAL, remaining_ms=30_000)
    answered = appmesh_gone.answered[answered_before:]
    # Then nothing of the resource is ACTIVE in ECS, whatever the outcome
    assert aws_state.active_revisions(FAMILY) == []
    warnings = warnings_of(caplog)
    metrics = [r for r in emf_lines(capsys.readouterr().out) if r.get("RequestType") == "Delete"]
    assert len(metrics) == 1
    if finishes(setting, way):
        # SUCCESS, with one WARNING naming what may be left, and the metric
        ok(body)
        assert len(warnings) == 1
        message = warnings[0].getMessage()
        assert f"virtual service {SERVICE}" in message
        assert f"virtual node {NODE}" in message
        assert "mesh ecs-mesh" in message
        assert metrics[0].get("AppMeshUnavailable") in (1, 1.0, [1.0])
    else:
        # FAILED, with a Reason naming App Mesh and the way out; no metric, no warning
        reason = failed(body)
        assert "App Mesh" in reason
        if way == "AccessDenied":
            assert "AppMeshRetired" in reason
            assert "AccessDeniedException" in reason
        assert warnings == []
        assert "AppMeshUnavailable" not in metrics[0]
    # And with App Mesh back, what the warning named is what is left (nothing was deleted blind)
    appmesh_gone.off()
    assert aws_state.node_names() == [NODE]
    assert aws_state.service_names() == [SERVICE]
    if setting == "true":
        # true: App Mesh was not called at all
        assert answered == []


@pytest.mark.parametrize("way", list(WAYS))
def test_retired_true_never_calls_app_mesh_on_delete(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    provider: Callable[[str], actions.Provider],
    faults: Faults,
    way: str,
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    fresh = provider("true")
    WAYS[way](appmesh_gone)
    calls_before = len(faults.calls)
    ok(cfn.delete(LOGICAL))
    assert [c for c in faults.calls[calls_before:] if c[0] == "appmesh"] == []
    assert isinstance(fresh.appmesh, AppMesh)
    assert fresh.appmesh._client is None  # the appmesh client was never even built
    assert aws_state.active_revisions(FAMILY) == []


# -- Transient and throttled errors are retried, never taken for a retired service -----------


def test_a_transient_5xx_without_code_is_retried_and_the_delete_removes_everything(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    # Two 503 pages from a load balancer, then App Mesh answers again
    before = len(appmesh_gone.answered)
    appmesh_gone.answer_status(503, times=2)
    ok(cfn.delete(LOGICAL))
    assert [a.status for a in appmesh_gone.answered[before:]][:2] == [503, 503]
    assert warnings_of(caplog) == []
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []
    assert aws_state.active_revisions(FAMILY) == []


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("DeleteVirtualNode", "TooManyRequestsException"),
        ("DeleteVirtualService", "ServiceUnavailableException"),
        ("ListTagsForResource", "InternalServerErrorException"),
    ],
)
def test_app_mesh_errors_of_its_own_are_retried_and_never_mean_retired(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    faults: Faults,
    caplog: pytest.LogCaptureFixture,
    operation: str,
    code: str,
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    # Six in a row: more than the few attempts a suspected absence gets
    faults.fail("appmesh", operation, code, "try again", times=6)
    ok(cfn.delete(LOGICAL))
    assert faults.injected.count(("appmesh", operation, code)) == 6
    assert warnings_of(caplog) == []
    assert aws_state.node_names() == []
    assert aws_state.service_names() == []


def test_lasting_throttling_fails_the_delete_as_throttled_not_as_retired(
    cfn: CloudFormation, platform: Platform, appmesh_gone: AppMeshGone, faults: Faults
) -> None:
    ok(fast(cfn).create(LOGICAL, workshop(platform)))
    faults.fail("appmesh", "DeleteVirtualService", "TooManyRequestsException", "slow", times=999)
    reason = failed(cfn.delete(LOGICAL, remaining_ms=7_000))
    assert "throttled" in reason
    assert "unavailable" not in reason
    faults._armed.clear()
    assert aws_state.service_names() == [SERVICE]


# -- Create and Update in App Mesh mode -------------------------------------------------------


@pytest.mark.parametrize("setting", ["auto", "true"])
@pytest.mark.parametrize("way", [w for w in WAYS if w != "AccessDenied"])
def test_create_when_app_mesh_is_gone_fails_at_once_leaving_nothing(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    provider: Callable[[str], actions.Provider],
    faults: Faults,
    way: str,
    setting: str,
) -> None:
    provider(setting)
    WAYS[way](appmesh_gone)
    reason = failed(fast(cfn).create(LOGICAL, workshop(platform), remaining_ms=30_000))
    assert "App Mesh is unavailable" in reason
    assert "Mode: ServiceConnect" in reason
    assert "docs/migration.md" in reason
    assert "throttled" not in reason
    # Nothing registered, nothing written anywhere
    assert all_revisions() == []
    assert faults.writes() == []


@pytest.mark.parametrize("way", ["HTTP 410 page", *CONNECTION_FAILURES])
def test_update_when_app_mesh_is_gone_fails_and_keeps_the_running_revision(
    cfn: CloudFormation,
    platform: Platform,
    appmesh_gone: AppMeshGone,
    provider: Callable[[str], actions.Provider],
    faults: Faults,
    way: str,
) -> None:
    created = ok(fast(cfn).create(LOGICAL, workshop(platform)))
    provider("auto")
    WAYS[way](appmesh_gone)
    writes_before = len(faults.writes())
    props = workshop(platform, Envoy={"LogLevel": "debug"})
    reason = failed(cfn.update(LOGICAL, props, remaining_ms=30_000))
    assert "App Mesh is unavailable" in reason
    assert "Mode: ServiceConnect" in reason
    assert "docs/migration.md" in reason
    assert "throttled" not in reason
    assert faults.writes()[writes_before:] == []
    assert aws_state.active_revisions(FAMILY) == [created["TaskDefinitionArn"]]
