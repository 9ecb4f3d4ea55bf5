"""The targets, one package each; ``registry`` lists them and is the only module importing them.

A mode's ``__init__`` holds its ``SPEC`` (``registry.ModeSpec``) and imports nothing of the
mode's code: the lint rules, ``plan`` and an event of another mode read the spec alone.
"""
