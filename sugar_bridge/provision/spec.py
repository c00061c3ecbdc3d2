"""The ``sugar:`` section: users, roles, security groups, key accounts, custom fields.

The spec is validated once, when the config file is loaded (``sugar_bridge.config.load_config``):
shapes and types by pydantic (``extra="forbid"`` everywhere, so a typo is an error), then the
cross-references (a user's role must be declared, a group member must be a declared user, names
are unique, ...) by :meth:`SugarSpec._check_references`, which reports each problem at its exact
path (``sugar.users[3].roles[0]``) so the loader can name the file and line. A spec that does not
validate is rejected whole: nothing is planned or applied.

Rights are written in words (``view: all``, ``edit: owner``) and mapped to Sugar's ACL levels by
:data:`ACL_LEVELS`; passwords are never clear text (``generate``, ``{env: VAR}``, ``{file: PATH}``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

# --- ACL levels ---------------------------------------------------------------------------------
#: Sugar's ACL levels (modules/ACLActions/actiondefs.php) by the word used in the spec.
ACL_LEVELS: dict[str, int] = {
    "all": 90,  # ACL_ALLOW_ALL
    "enabled": 89,  # ACL_ALLOW_ENABLED (the module tab itself)
    "group": 80,  # ACL_ALLOW_GROUP (records of the user's security groups)
    "owner": 75,  # ACL_ALLOW_OWNER
    "none": -99,  # ACL_ALLOW_NONE
    "disabled": -98,  # ACL_ALLOW_DISABLED (the module tab itself)
    "default": 0,  # ACL_ALLOW_DEFAULT: the action's default applies
}
#: Level → word, for reading rights back and for export.
ACL_WORDS: dict[int, str] = {level: word for word, level in ACL_LEVELS.items()}

AccessWord = Literal["enabled", "disabled", "default"]
RightWord = Literal["all", "group", "owner", "none", "default"]

#: The module-level actions of a role, in Sugar's order.
ACL_ACTIONS: tuple[str, ...] = (
    "access",
    "view",
    "list",
    "edit",
    "delete",
    "import",
    "export",
    "massupdate",
)

#: Types that ``bridge_ensure_custom_field`` creates (the extension contract).
FieldType = Literal[
    "varchar", "int", "decimal", "currency", "date", "datetime", "enum", "bool", "text"
]
ViewName = Literal["detailview", "editview", "listview"]
# Not the list view: ten pushed fields as default columns crowd every user's Accounts list.
DEFAULT_VIEWS: tuple[ViewName, ...] = ("detailview", "editview")

_MARKUP = re.compile(r"<[A-Za-z/!?]")


def _no_markup(value: str) -> str:
    # Sugar's XSS cleaning removes tag-like text on save (recording
    # 04_special_characters_roundtrip: "<Co>" disappears): such a value could never be stored
    # as written, and every plan would show it as a change again.
    if _MARKUP.search(value):
        raise ValueError(
            "Sugar removes markup-like text such as '<Co>' when it saves: write it without "
            "angle brackets"
        )
    return value


Text = Annotated[str, AfterValidator(_no_markup)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=150),
    AfterValidator(_no_markup),
]
OptionalText = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_markup)]
UserName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,59}$", strip_whitespace=True)
]
CustomFieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,55}_c$")]
ModuleName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9_]{0,49}$")]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
ScalarValue = bool | int | float | Decimal | dt.datetime | dt.date | str | None

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


Email = Annotated[str, AfterValidator(_email)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Passwords ----------------------------------------------------------------------------------
class PasswordFromEnv(_Model):
    """The password is read from an environment variable at apply time."""

    env: EnvVarName


class PasswordFromFile(_Model):
    """The password is the first line of a file, read at apply time."""

    file: Path


PasswordSource = Literal["generate"] | PasswordFromEnv | PasswordFromFile


# --- Rights -------------------------------------------------------------------------------------
class ModuleRights(_Model):
    """One module's rights in a role. An action left out is not managed (Sugar keeps its value)."""

    access: AccessWord | None = None
    view: RightWord | None = None
    list: RightWord | None = None
    edit: RightWord | None = None
    delete: RightWord | None = None
    import_: RightWord | None = Field(default=None, alias="import")
    export: RightWord | None = None
    massupdate: RightWord | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def levels(self) -> dict[str, int]:
        """The declared actions as Sugar ACL levels (``{"view": 90, ...}``)."""
        words = self.model_dump(by_alias=True, exclude_none=True)
        return {action: ACL_LEVELS[word] for action, word in words.items()}


class Role(_Model):
    """An ACL role (Sugar's "group of rights")."""

    name: Name
    description: Text = ""
    rights: dict[ModuleName, ModuleRights] = Field(default_factory=dict)


# --- Users and groups ---------------------------------------------------------------------------
class User(_Model):
    """A Sugar user. Never deleted by the bridge: pruning sets ``status: Inactive``."""

    user_name: UserName
    first_name: OptionalText = ""
    last_name: Name
    email: Email | None = None
    title: OptionalText = ""
    department: OptionalText = ""
    status: Literal["Active", "Inactive"] = "Active"
    employee_status: OptionalText | None = Field(
        default=None,
        description="Sugar's employee status (employee_status_dom: Active, Terminated, Leave of "
        "Absence). Left out: follows status (Active → Active; Inactive → Terminated unless HR set "
        "another value). An Active user's can only be Active (SuiteCRM 7.15 refuses the others).",
    )
    is_admin: bool = False
    roles: list[Name] = Field(default_factory=list)
    security_groups: list[Name] = Field(default_factory=list)
    password: PasswordSource | None = Field(
        default=None,
        description="Set when the user is created: 'generate', {env: VAR} or {file: PATH}.",
    )

    @model_validator(mode="after")
    def _active_users_are_active_employees(self) -> User:
        if self.status == "Active" and self.employee_status not in (None, "Active"):
            # SuiteCRM 7.15's User::isEnabled() refuses every session of such a user.
            raise ValueError(
                f"an Active user's employee_status can only be 'Active' (SuiteCRM 7.15 refuses "
                f"the sessions of a user whose employee_status is {self.employee_status!r}): "
                "leave employee_status out"
            )
        return self

    @field_validator("password", mode="before")
    @classmethod
    def _no_clear_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "generate":
            # The value itself is not repeated: it may be a real password.
            raise PydanticCustomError(
                "clear_text_password",
                "clear-text passwords are not allowed in the config; use 'generate', "
                "{env: VARIABLE} or {file: PATH}",
            )
        return value


class SecurityGroup(_Model):
    """A SuiteCRM security group: members (users) and the roles attached to it."""

    name: Name
    description: Text = ""
    members: list[UserName] = Field(default_factory=list)
    roles: list[Name] = Field(default_factory=list)


# --- Accounts -----------------------------------------------------------------------------------
class Address(_Model):
    """A postal address (Sugar's billing/shipping address fields)."""

    street: OptionalText = ""
    city: OptionalText = ""
    state: OptionalText = ""
    postal_code: OptionalText = ""
    country: OptionalText = ""


class Account(_Model):
    """A key account, upserted by its external id (stored in ``SugarSpec.account_key_field``)."""

    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    name: Name
    type: OptionalText = ""
    industry: OptionalText = ""
    phone: OptionalText = ""
    email: Email | None = None
    website: OptionalText = ""
    description: Text = ""
    billing_address: Address | None = None
    shipping_address: Address | None = None
    assigned_user: UserName | None = None
    custom: dict[CustomFieldName, ScalarValue] = Field(default_factory=dict)


# --- Custom fields ------------------------------------------------------------------------------
class CustomField(_Model):
    """A custom field created through the bridge extension (``bridge_ensure_custom_field``)."""

    name: CustomFieldName
    type: FieldType
    label: Name
    len: Annotated[int, Field(ge=1, le=255)] | None = None
    precision: Annotated[int, Field(ge=0, le=8)] | None = None
    options: dict[str, str] | None = Field(
        default=None, description="Dropdown keys → labels (enum only)."
    )
    default: ScalarValue = None
    required: bool = False
    help: OptionalText = ""
    views: list[ViewName] = Field(
        default_factory=lambda: list(DEFAULT_VIEWS),
        description="Layouts the field is put on when created: detail and edit by default; "
        "add listview to make it a default column of the list view.",
    )

    @field_validator("options", mode="before")
    @classmethod
    def _options_list(cls, value: Any) -> Any:
        # A plain list of keys is accepted: each key is its own label.
        if isinstance(value, list):
            return {str(item): str(item) for item in value}
        return value

    @model_validator(mode="after")
    def _options_only_for_enum(self) -> CustomField:
        if self.type == "enum" and not self.options:
            raise ValueError("an enum field needs options")
        if self.type != "enum" and self.options is not None:
            raise ValueError(f"options are only for enum fields, not {self.type}")
        if (
            self.type == "enum"
            and self.default not in (None, "")
            and self.options is not None
            and str(self.default) not in self.options
        ):
            raise ValueError(f"default {self.default!r} is not one of the options")
        if self.precision is not None and self.type not in ("decimal", "currency"):
            raise ValueError("precision is only for decimal and currency fields")
        return self


# --- The section --------------------------------------------------------------------------------
class SugarSpec(BaseModel):
    """The ``sugar:`` section: users, roles, security groups, key accounts, custom fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_key_field: CustomFieldName = Field(
        default="external_id_c",
        description="Accounts custom field holding the external id (the upsert key).",
    )
    protected_users: list[UserName] = Field(
        default_factory=lambda: ["admin"],
        description="Existing users that are never pruned (the API user is always protected).",
    )
    custom_fields: dict[ModuleName, list[CustomField]] = Field(default_factory=dict)
    roles: list[Role] = Field(default_factory=list)
    security_groups: list[SecurityGroup] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_references(self) -> SugarSpec:
        problems = list(_reference_problems(self))
        if problems:
            raise ValidationError.from_exception_data(
                "SugarSpec",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("reference", msg),
                        loc=loc,
                        input=value,
                    )
                    for loc, msg, value in problems
                ],
            )
        return self

    # --- lookups used by plan/apply ---------------------------------------------------------
    def field(self, module: str, name: str) -> CustomField | None:
        """The declared custom field ``module.name``, if any."""
        return next((f for f in self.custom_fields.get(module, []) if f.name == name), None)

    def group_members(self) -> dict[str, set[str]]:
        """Security group name → user names (from the group's members and users' groups)."""
        members = {group.name: set(group.members) for group in self.security_groups}
        for user in self.users:
            for group_name in user.security_groups:
                members.setdefault(group_name, set()).add(user.user_name)
        return members

    def role_members(self) -> dict[str, set[str]]:
        """Role name → user names holding it directly."""
        members: dict[str, set[str]] = {role.name: set() for role in self.roles}
        for user in self.users:
            for role_name in user.roles:
                members.setdefault(role_name, set()).add(user.user_name)
        return members

    @property
    def is_empty(self) -> bool:
        """True when the section declares nothing to provision."""
        return not (
            self.custom_fields or self.roles or self.security_groups or self.users or self.accounts
        )


Problem = tuple[tuple[int | str, ...], str, Any]


def _duplicates(
    items: list[Any], key: str, base: tuple[int | str, ...], what: str, fold: bool = False
) -> list[Problem]:
    """A problem at each repeated name (the second and later occurrences)."""
    seen: dict[str, int] = {}
    out: list[Problem] = []
    for index, item in enumerate(items):
        value = getattr(item, key)
        norm = value.lower() if fold else value
        if norm in seen:
            out.append(
                (
                    (*base, index, key),
                    f"duplicate {what} {value!r} (first at index {seen[norm]})",
                    value,
                )
            )
        else:
            seen[norm] = index
    return out


def _repeated(values: list[str], base: tuple[int | str, ...], what: str) -> list[Problem]:
    counts = Counter(values)
    return [
        ((*base, index), f"{what} {value!r} is listed twice", value)
        for index, value in enumerate(values)
        if counts[value] > 1 and values.index(value) != index
    ]


# What a list of names refers to: (the noun of an unknown one, where it must be, of a repeat).
_ROLE = ("role", "sugar.roles", "role")
_GROUP = ("security group", "sugar.security_groups", "group")
_MEMBER = ("user", "sugar.users", "member")


def _references(
    values: list[str], known: set[str], base: tuple[int | str, ...], kind: tuple[str, str, str]
) -> list[Problem]:
    """Names that must each be in ``known``, listed once: the unknown ones, then the repeats."""
    noun, where, repeat = kind
    unknown: list[Problem] = [
        ((*base, j), f"unknown {noun} {value!r} (not in {where})", value)
        for j, value in enumerate(values)
        if value not in known
    ]
    return unknown + _repeated(values, base, repeat)


def _reference_problems(spec: SugarSpec) -> list[Problem]:
    """Every cross-reference problem of the spec, with its path inside ``sugar``."""
    problems: list[Problem] = []
    # Sugar compares user names and role/group names case-insensitively (MySQL collation),
    # so names differing only by case would collide on the server.
    problems += _duplicates(spec.users, "user_name", ("users",), "user_name", fold=True)
    problems += _duplicates(spec.roles, "name", ("roles",), "role name", fold=True)
    problems += _duplicates(spec.security_groups, "name", ("security_groups",), "group name", True)
    problems += _duplicates(spec.accounts, "external_id", ("accounts",), "external_id")
    for module, fields in spec.custom_fields.items():
        problems += _duplicates(fields, "name", ("custom_fields", module), "custom field")

    role_names = {role.name for role in spec.roles}
    group_names = {group.name for group in spec.security_groups}
    user_names = {user.user_name for user in spec.users}
    assignable = user_names | set(spec.protected_users)

    for i, user in enumerate(spec.users):
        problems += _references(user.roles, role_names, ("users", i, "roles"), _ROLE)
        problems += _references(
            user.security_groups, group_names, ("users", i, "security_groups"), _GROUP
        )
        if user.user_name in spec.protected_users:
            problems.append(
                (
                    ("users", i, "user_name"),
                    f"{user.user_name!r} is also in protected_users; a user is either managed "
                    "or protected",
                    user.user_name,
                )
            )

    for i, group in enumerate(spec.security_groups):
        problems += _references(
            group.members, user_names, ("security_groups", i, "members"), _MEMBER
        )
        problems += _references(group.roles, role_names, ("security_groups", i, "roles"), _ROLE)

    account_fields = {f.name: f for f in spec.custom_fields.get("Accounts", [])}
    for i, account in enumerate(spec.accounts):
        if account.assigned_user is not None and account.assigned_user not in assignable:
            problems.append(
                (
                    ("accounts", i, "assigned_user"),
                    f"unknown user {account.assigned_user!r} (not in sugar.users or "
                    "protected_users)",
                    account.assigned_user,
                )
            )
        for name, value in account.custom.items():
            loc: tuple[int | str, ...] = ("accounts", i, "custom", name)
            if name == spec.account_key_field:
                problems.append((loc, "the key field is set by external_id, not in custom", name))
                continue
            if isinstance(value, str) and _MARKUP.search(value):
                # Seen live: "line & <x" is stored as "line & " -- the apply would stop at
                # this account with "Sugar did not store ...", after the changes before it.
                problems.append(
                    (
                        loc,
                        "Sugar removes markup-like text such as '<Co>' when it saves: write it "
                        "without angle brackets",
                        value,
                    )
                )
                continue
            declared = account_fields.get(name)
            if declared is None:
                problems.append(
                    (
                        loc,
                        f"unknown custom field {name!r} (not in sugar.custom_fields.Accounts)",
                        name,
                    )
                )
            elif (
                declared.type == "enum"
                and value is not None
                and declared.options is not None
                and str(value) not in declared.options
            ):
                problems.append(
                    (
                        loc,
                        f"{value!r} is not an option of {name} ({', '.join(declared.options)})",
                        value,
                    )
                )
    if spec.accounts and "Accounts" in spec.custom_fields:
        key = account_fields.get(spec.account_key_field)
        if key is not None and key.type not in ("varchar", "text"):
            problems.append(
                (
                    ("account_key_field",),
                    f"{spec.account_key_field} must be a varchar custom field, not {key.type}",
                    spec.account_key_field,
                )
            )
    return problems
