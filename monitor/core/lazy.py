"""Imports put off until first use: the one way, in this project, to import other than at the top.

`monitor --help` must answer at once, yet behind the commands it lists stand SQLAlchemy, alembic,
pydantic, Starlette, python-telegram-bot and scipy (through datasketch): over a second of imports
that help never needs. A module bound with `lazy_import` costs nothing until an attribute of it is
read; then it is imported, once, as usual. Use it only where start-up time needs it (the command
line, and an adapter whose library is slow to import but seldom used); everywhere else import at
the top of the file.

The type checker must still see the real module, so each use reads:

    if TYPE_CHECKING:
        from monitor import store
    else:
        store = lazy_import("monitor.store")

`python -X importtime -m monitor --help` shows what start-up still imports; `make bench` times it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def lazy_import(name: str) -> ModuleType:
    """A stand-in for the module `name` that imports it when one of its attributes is first read.

    The stand-in is not put into `sys.modules`, so nothing else sees a half-loaded module, and a
    submodule's parent packages are not imported early either (as `importlib.util.LazyLoader`
    would); an import error surfaces at first use, where the command needs the module."""
    return _Deferred(name)


class _Deferred(ModuleType):
    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)

    def __repr__(self) -> str:
        return f"<module {self.__name__!r}, imported on first use>"
