"""boto3 clients with the standard configuration (region, credentials, AWS_ENDPOINT_URL).

Built on first use, not at import: a Delete of an id the resource never issued makes no call,
and cold start pays only for the clients a request needs.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from meshed_crystal import sdk

# One attempt per botocore call: ``retry.call`` retries throttling within the Lambda's budget.
CONFIG = Config(
    retries={"total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="meshed-crystal",
)


def _session() -> boto3.Session:
    """boto3's default session (its standard configuration), sharing botocore with sdk."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session(botocore_session=sdk.botocore_session())
    session = boto3.DEFAULT_SESSION
    assert session is not None
    sdk.share(session._session)
    return session


def make_client(service: str) -> Any:
    return _session().client(service, config=CONFIG)  # type: ignore[call-overload]


# Reads run in parallel (meshed_crystal.parallel): clients are thread-safe, building them from
# one session is not, so one client is built at a time.
_building = threading.Lock()


class LazyClient:
    """Holds an injected client, or builds the default one on first use."""

    def __init__(self, service: str, client: Any | None = None) -> None:
        self._service = service
        self._client = client
        # Per client: a read that needs this client waits for its build only, not for the
        # builds of the others queued on ``_building``.
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    with _building:
                        self._client = make_client(self._service)
        return self._client
