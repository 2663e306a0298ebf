"""Optional dependencies: import one, or say which extra installs it."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["has_module", "require"]


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{module} is needed for this feature; install it with pip install 'ncs-edx[{extra}]'"
        ) from err


def has_module(name: str) -> bool:
    """True when an optional dependency can be imported."""
    return importlib.util.find_spec(name) is not None
