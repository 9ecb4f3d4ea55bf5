"""The App Mesh adapter's view of errors: which answers come from App Mesh itself."""

from __future__ import annotations

import botocore.session
from meshed_crystal.modes.appmesh.adapter import APPMESH_ERROR_CODES


def test_app_mesh_error_codes_are_exactly_the_service_models() -> None:
    # An answer with one of these codes is App Mesh's own, never a sign that it is gone
    # (DESIGN §9); the list is the model's, so a new SDK that adds a code fails this test.
    model = botocore.session.get_session().get_service_model("appmesh")
    assert frozenset(shape.name for shape in model.error_shapes) == APPMESH_ERROR_CODES
