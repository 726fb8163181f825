"""The pytest layer: the only part of unisafe-pytest that imports pytest.

``plugin`` is the pytest11 entry point (glue only); the run object and the plugins it
registers live beside it. Nothing outside this folder imports from it.
"""
