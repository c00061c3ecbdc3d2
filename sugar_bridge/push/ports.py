"""The part of the Sugar client the push uses, as structural types.

``connectors.sugar.client.SugarClient`` satisfies these protocols; naming only what the push calls
keeps this package honest about its needs and lets tests drive it with any double.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol


class ModuleFieldsLike(Protocol):
    """What get_module_fields returns (``Module.fields()``)."""

    @property
    def module_fields(self) -> Mapping[str, Mapping[str, Any]]: ...


class ModuleLike(Protocol):
    """One Sugar module (``client.module(name)``)."""

    def get(self, id: str, fields: Sequence[str] | None = None) -> dict[str, Any] | None: ...

    def get_many(
        self, ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]: ...

    def iter_records(
        self,
        query: str = "",
        fields: Sequence[str] | None = None,
        order_by: str = "id",
        page_size: int = 200,
        deleted: bool = False,
    ) -> Iterator[dict[str, Any]]: ...

    def create(self, values: Mapping[str, Any], id: str | None = None) -> str: ...

    def save_many(
        self, rows: Sequence[Mapping[str, Any]], batch_size: int = 50, *, check_exists: bool = True
    ) -> list[str]: ...

    def fields(self, names: Sequence[str] | None = None) -> ModuleFieldsLike: ...

    def related(
        self,
        id: str,
        link: str,
        fields: Sequence[str] | None = None,
        query: str = "",
        page_size: int = 200,
    ) -> Iterator[dict[str, Any]]: ...

    def link(
        self,
        id: str,
        link: str,
        related_ids: Sequence[str],
        values: Mapping[str, Any] | None = None,
    ) -> None: ...

    def unlink(self, id: str, link: str, related_ids: Sequence[str]) -> None: ...


class ClientLike(Protocol):
    """A Sugar client with its own session."""

    def module(self, name: str) -> ModuleLike: ...

    def close(self) -> None:
        """Log out and release the HTTP connections."""


ClientFactory = Callable[[], ClientLike]
"""Builds a new client (its own HTTP session, hence its own Sugar session) on each call."""
