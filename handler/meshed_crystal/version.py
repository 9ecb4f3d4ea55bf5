"""The provider's version: the one place it is written.

The function logs it once at cold start; template.yaml's ``SemanticVersion`` (the Serverless
Application Repository's version) and pyproject.toml's dynamic version carry it, and a test holds
them equal (tests/integration/test_template.py). CHANGELOG.md says what each version changed.
"""

__version__ = "0.2.0"
