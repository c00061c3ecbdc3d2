"""Custom fields through the bridge extension: removing one the way Studio's *Delete* does.

Creating and updating fields goes through the provisioning plan (``bridge_ensure_custom_field``);
removal is its own call because nothing in a spec asks for it: tests and operators use it to
take away fields they created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.sugar.exceptions import WriteNotStored

if TYPE_CHECKING:
    from connectors.sugar.client import SugarClient

#: Error number of ``bridge_remove_custom_field`` for a field that is not a custom field.
NOT_A_CUSTOM_FIELD = 1004


@dataclass(frozen=True)
class FieldRemoval:
    """What ``bridge_remove_custom_field`` did."""

    name: str
    #: False when the field did not exist (nothing was changed).
    removed: bool
    #: The field's label was taken out of the module's label override file.
    label_removed: bool
    #: The dropdown list file the bridge wrote for the field was deleted.
    list_removed: bool


def remove_custom_field(client: SugarClient, module_name: str, field_name: str) -> FieldRemoval:
    """Remove a custom field like Studio's *Delete*; idempotent (a missing field: removed False).

    Uses the extension method ``bridge_remove_custom_field`` (admin session): off the layouts,
    its label and the dropdown list the bridge wrote removed, ``fields_meta_data`` row and
    ``<table>_cstm`` column dropped, caches rebuilt. Raises SugarApiError number 1004
    (:data:`NOT_A_CUSTOM_FIELD`) for a stock field or a name without ``_c``, NoSuchModule (20),
    AccessDenied (40) for a non-admin session.
    """
    answer = client.call_extension(
        "bridge_remove_custom_field", module_name=module_name, field_name=field_name
    )
    if not isinstance(answer, dict) or answer.get("name") != field_name:
        raise WriteNotStored(
            f"unexpected answer removing {module_name}.{field_name}: {answer!r}",
            method="bridge_remove_custom_field",
        )
    return FieldRemoval(
        name=field_name,
        removed=bool(answer.get("removed")),
        label_removed=bool(answer.get("label_removed")),
        list_removed=bool(answer.get("list_removed")),
    )
