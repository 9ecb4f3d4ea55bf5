"""``mode.Undo``: what a failed request made is undone newest first (DESIGN §5.2), whatever
an undo step raises.

Newest first matters once a request has made two things where the later one uses the earlier
(a virtual service and its provider node: App Mesh refuses to delete the node first), a case
the lifecycle's current paths do not reach with a failure in between; so it is held here.
"""

from __future__ import annotations

import logging

import pytest
from meshed_crystal.mode import Undo


def test_undo_runs_newest_first_and_goes_on_past_a_failing_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    undo = Undo()
    undo.add("deregister revision", lambda: ran.append("revision"))
    undo.add("delete node", lambda: ran.append("node"))

    def fails() -> None:
        ran.append("service")
        raise RuntimeError("App Mesh said no")

    undo.add("delete service", fails)
    with caplog.at_level(logging.ERROR):
        undo.run()
    assert ran == ["service", "node", "revision"]
    # The leftover is logged for operators, naming the step
    assert [(r.getMessage(), getattr(r, "undo", None)) for r in caplog.records] == [
        ("could not undo", "delete service")
    ]
