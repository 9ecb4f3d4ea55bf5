"""The process's one botocore session.

The AWS clients and the ECS model that converts inline task definitions share it, so botocore
parses ECS's service model once per container instead of twice (about 0.1 s of cold start).
"""

from __future__ import annotations

import functools

import botocore.session


@functools.cache
def botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()
