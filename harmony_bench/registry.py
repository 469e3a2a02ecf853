"""Name -> implementation registries with lazy imports, as lm-evaluation-harness does.

Built-ins register either with the decorator (when their module is imported) or as a
"module:attr" string so that asking for one name never imports another's heavy packages.
Third parties register through a Python entry-point group.
"""

from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    def __str__(self) -> str:  # KeyError would print the repr with quotes
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T | str] = {}
        self._origins: dict[str, dict] = {}  # entry-point names -> where they come from

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self._items[name] = obj
            return obj

        return deco

    def add_lazy(self, name: str, target: str) -> None:
        """Register "package.module:attr", imported on first `get`."""
        self._items.setdefault(name, target)

    def _load_entry_points(self) -> None:
        if not self.entry_point_group:
            return
        for ep in metadata.entry_points(group=self.entry_point_group):
            if ep.name in self._items:
                continue
            self._items[ep.name] = ep.value
            dist = getattr(ep, "dist", None)
            self._origins[ep.name] = {"entry_point": ep.value, "package": dist.name if dist else None,
                                      "version": dist.version if dist else None}

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def get(self, name: str) -> T:
        self._load_entry_points()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownName(f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})")
        item = self._items[name]
        if isinstance(item, str):
            module, _, attr = item.partition(":")
            item = getattr(importlib.import_module(module), attr)
            self._items[name] = item
        return item  # type: ignore[return-value]

    def origin(self, name: str) -> dict | None:
        """For a third-party entry point: its target, package and version (None for built-ins)."""
        self._load_entry_points()
        return self._origins.get(name)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._items


def load_attr(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
