"""The redaction filter and the logging set-up, record by record (docs/testing.md, "Mutation
score"); tests/integration/test_lifecycle_logs.py holds the whole function to the same rule."""

from __future__ import annotations

import io
import logging
import sys
import traceback
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger
from meshed_crystal.logs import RedactSecrets, configure_logging, redact

URL = (
    "https://bucket.s3.amazonaws.com/arn%3Aaws/response?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20260101&X-Amz-Signature=abc123&X-Amz-Expires=7200"
)
NAMES = ("meshed_crystal", "crhelper", "botocore")


def test_a_presigned_url_is_replaced_whole() -> None:
    assert redact(f"PUT {URL} failed") == "PUT [presigned URL redacted] failed"
    assert redact(f"'{URL}'") == "'[presigned URL redacted]'"


def test_signatures_and_credentials_outside_a_url_are_masked() -> None:
    text = 'X-Amz-Signature=abc&x-amz-credential=AKIA/x X-Amz-Security-Token=tok"X-Amz-Date=1'
    assert redact(text) == (
        "X-Amz-Signature=[redacted]&x-amz-credential=[redacted] "
        'X-Amz-Security-Token=[redacted]"X-Amz-Date=1'
    )
    assert redact("nothing secret") == "nothing secret"


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("meshed_crystal.x", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_the_filter_masks_the_formatted_message_and_keeps_the_record() -> None:
    made = record("sending to %s", URL)
    assert RedactSecrets().filter(made) is True
    assert (made.msg, made.args) == ("sending to [presigned URL redacted]", None)
    assert made.getMessage() == "sending to [presigned URL redacted]"


def test_a_clean_message_keeps_its_arguments() -> None:
    made = record("attempt %d", 3)
    assert RedactSecrets().filter(made) is True
    assert (made.msg, made.args) == ("attempt %d", (3,))


def test_the_filter_masks_extra_fields_and_leaves_other_values() -> None:
    made = record("response", url=URL, count=3, note="X-Amz-Signature=s1", plain="keep")
    RedactSecrets().filter(made)
    assert made.url == "[presigned URL redacted]"  # type: ignore[attr-defined]
    assert made.note == "X-Amz-Signature=[redacted]"  # type: ignore[attr-defined]
    assert (made.count, made.plain) == (3, "keep")  # type: ignore[attr-defined]


def test_a_message_with_a_secret_in_its_template_is_masked_once() -> None:
    # msg itself is not rewritten by the per-field pass: the first pass already did it.
    made = record("X-Amz-Signature=s1 %s", "x")
    RedactSecrets().filter(made)
    assert (made.msg, made.args) == ("X-Amz-Signature=[redacted] x", None)


@pytest.fixture
def loggers() -> Iterator[dict[str, logging.Logger]]:
    """The three loggers configure_logging changes, restored afterwards."""
    named = {name: logging.getLogger(name) for name in NAMES}
    other = logging.getLogger("unrelatedlib")
    saved = [
        (lg, lg.level, list(lg.handlers), lg.propagate, [list(h.filters) for h in lg.handlers])
        for lg in [*named.values(), other]
    ]
    yield {**named, "unrelatedlib": other}
    for lg, level, handlers, propagate, filters in saved:
        lg.setLevel(level)
        lg.handlers = handlers
        lg.propagate = propagate
        for handler, kept in zip(handlers, filters, strict=True):
            handler.filters = kept


def powertools(service: str, level: int | str) -> Logger:
    return Logger(service=service, level=level, logger_handler=logging.StreamHandler(io.StringIO()))


def test_configure_logging_gives_the_three_loggers_the_functions_handler_and_level(
    loggers: dict[str, logging.Logger],
) -> None:
    source = powertools("mutation-test-a", "DEBUG")
    unrelated = loggers["unrelatedlib"]
    unrelated_handlers = list(unrelated.handlers)
    configure_logging(source)
    handlers = logging.getLogger(source.name).handlers
    assert handlers
    assert all([type(f) for f in h.filters].count(RedactSecrets) == 1 for h in handlers)
    for name in NAMES:
        assert loggers[name].handlers == handlers, name
        assert loggers[name].level == logging.DEBUG, name
    # A library outside the three is left alone.
    assert unrelated.handlers == unrelated_handlers
    # Twice is once: no second filter.
    configure_logging(source)
    assert all([type(f) for f in h.filters].count(RedactSecrets) == 1 for h in handlers)


def test_records_through_the_configured_handler_are_redacted(
    loggers: dict[str, logging.Logger],
) -> None:
    sink = io.StringIO()
    source = Logger(
        service="mutation-test-b", level="INFO", logger_handler=logging.StreamHandler(sink)
    )
    configure_logging(source)
    logging.getLogger("crhelper").info("to %s", URL)
    assert "[presigned URL redacted]" in sink.getvalue()
    assert "abc123" not in sink.getvalue()


def test_botocore_stays_at_warning_unless_a_level_is_asked_for(
    loggers: dict[str, logging.Logger],
) -> None:
    # A function logger with no level of its own leaves botocore's unset; it is then WARNING.
    configure_logging(powertools("mutation-test-c", logging.NOTSET))
    assert loggers["botocore"].level == logging.WARNING
    assert loggers["crhelper"].level == logging.NOTSET
    # A level asked for is the function's, botocore's too.
    configure_logging(powertools("mutation-test-d", "DEBUG"))
    assert loggers["botocore"].level == logging.DEBUG


def test_a_clean_message_keeps_its_template_even_where_the_template_looks_secret() -> None:
    # The template is only rewritten with the message it formats to; on its own, masking it
    # would leave its arguments without their placeholder.
    made = record("X-Amz-Signature=%s&next", "")
    RedactSecrets().filter(made)
    assert (made.msg, made.args) == ("X-Amz-Signature=%s&next", ("",))
    assert made.getMessage() == "X-Amz-Signature=&next"


def failure(message: str) -> logging.LogRecord:
    try:
        raise OSError(message)
    except OSError:
        made = record("response PUT failed")
        made.exc_info = sys.exc_info()
    return made


@pytest.mark.parametrize("tail", ["failed", "failed ", "failed X"])
def test_a_traceback_that_quotes_a_secret_is_kept_redacted(tail: str) -> None:
    made = failure(f"PUT {URL} {tail}")
    assert made.exc_info is not None
    expected = redact("".join(traceback.format_exception(*made.exc_info)))
    RedactSecrets().filter(made)
    assert made.exc_info is None
    assert made.exc_text is not None
    # The whole traceback, redacted, less only its final newline.
    assert made.exc_text == expected[:-1]
    assert made.exc_text.startswith("Traceback (most recent call last):\n")
    assert made.exc_text.endswith(f"OSError: PUT [presigned URL redacted] {tail}")
    assert vars(made)["exception"] == made.exc_text
    assert vars(made)["exception_name"] == "OSError"
    assert "abc123" not in logging.Formatter().format(made)


def test_an_exception_logged_without_its_traceback_is_redacted_too() -> None:
    # logger.error(..., exc_info=error) with an error never raised: no traceback object.
    error = OSError(f"PUT {URL} failed")
    made = record("response PUT failed")
    made.exc_info = (OSError, error, None)
    RedactSecrets().filter(made)
    assert made.exc_text == "OSError: PUT [presigned URL redacted] failed"
    assert made.exc_info is None


def test_a_traceback_without_a_secret_is_left_to_the_formatter() -> None:
    made = failure("PUT https://example.com/plain failed")
    exc_info = made.exc_info
    RedactSecrets().filter(made)
    assert made.exc_info is exc_info
    assert made.exc_text is None
    assert not hasattr(made, "exception")
    # exc_info without an exception (logging.exception outside an except block) is left too
    made = record("no exception")
    made.exc_info = (None, None, None)
    RedactSecrets().filter(made)
    assert made.exc_info == (None, None, None)
