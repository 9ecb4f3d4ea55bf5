"""Logging: Powertools JSON lines for this package, crhelper and botocore, with no secret.

The presigned ResponseURL is a credential. Nothing here logs events, and as a second line of
defence every record passes a filter that masks S3 presigned-URL signatures and credentials
wherever they would appear (botocore at DEBUG, an exception message quoting a URL...).
"""

from __future__ import annotations

import logging
import re
import traceback

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

_SECRET = re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+", re.IGNORECASE)
_PRESIGNED = re.compile(r"https://[^\s\"']*X-Amz-[^\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET.sub(r"\1[redacted]", _PRESIGNED.sub("[presigned URL redacted]", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # A traceback quotes its exception's message (a failed PUT names its URL): the
            # formatters write exc_text as it is, so it is formatted here, redacted.
            text = "".join(traceback.format_exception(*record.exc_info))
            if "X-Amz-" in text:
                # Kept, redacted, under the keys Powertools would use (plain formatters use
                # exc_text); the original exc_info would be formatted verbatim.
                record.exc_text = redact(text).rstrip("\n")
                record.exception = record.exc_text
                record.exception_name = type(record.exc_info[1]).__name__
                record.exc_info = None
        for key, value in list(vars(record).items()):
            if isinstance(value, str) and key not in ("msg", "message") and "X-Amz-" in value:
                setattr(record, key, redact(value))
        return True


def configure_logging(logger: Logger) -> None:
    copy_config_to_registered_loggers(
        source_logger=logger, include={"meshed_crystal", "crhelper", "botocore"}
    )
    for name in (logger.name, "meshed_crystal", "crhelper", "botocore"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())
    # botocore logs every request at DEBUG; it follows the function's level only when asked.
    if logging.getLogger("botocore").level == logging.NOTSET:
        logging.getLogger("botocore").setLevel(logging.WARNING)
