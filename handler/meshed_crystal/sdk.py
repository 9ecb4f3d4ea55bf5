"""The process's one botocore session.

The AWS clients (boto3's default session) and the ECS model that converts inline task
definitions share it, so botocore parses ECS's service model once per container instead of
twice (about 0.1 s of cold start). This module does not import boto3: the pure modules use it.
"""

from __future__ import annotations

import botocore.session

_session: botocore.session.Session | None = None


def botocore_session() -> botocore.session.Session:
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session


def share(session: botocore.session.Session) -> None:
    """Use the clients' session from now on (if the ECS model has not loaded one already)."""
    global _session
    if _session is None:
        _session = session
