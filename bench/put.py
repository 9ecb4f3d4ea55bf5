"""The floor's response: one HTTPS PUT of the body to the presigned URL, nothing else."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


def put(url: str, body: bytes) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(parts.netloc, timeout=10)
    try:
        connection.request(
            "PUT",
            f"{parts.path}?{parts.query}",
            body=body,
            headers={"content-type": "", "content-length": str(len(body))},
        )
        return connection.getresponse().status
    finally:
        connection.close()
