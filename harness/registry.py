"""Registry entries that name code by ``"module:attr"``, imported on first use (lm-eval's
``api/registry.py`` and inspect_ai's provider registry do the same): a table of engines, judges or
entry points costs no import until a row is used, so ``loomctl --help`` and validation stay light
and adding a row touches only the table."""

from __future__ import annotations

import importlib
from typing import Any


def resolve(target: str) -> Any:
    """The object a ``"module:attr"`` entry names, imported now."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"registry entry {target!r} is not 'module:attr'")
    return getattr(importlib.import_module(module), attr)
