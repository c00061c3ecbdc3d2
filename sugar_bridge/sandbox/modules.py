"""The modules the sandbox serves, described the way Sugar's vardefs describe them.

Each module has a table shaped like Sugar's (same table and column names, so `query` strings written
for a real Sugar run unchanged), its fields (db, non-db and the custom ones that SuiteCRM ships) and
its links (name → relationship). Custom fields added at run time live in ``fields_meta_data`` and
``<table>_cstm`` (see ``store.py``); this module only knows the static part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FieldSource = Literal["db", "non-db", "custom_fields"]
LinkKind = Literal["m2m", "parent", "email"]


@dataclass(frozen=True)
class FieldDef:
    """One field of a module (a vardef reduced to what the API shows and the sandbox needs)."""

    name: str
    type: str = "varchar"
    label: str = ""
    len: int | str = ""
    required: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    source: FieldSource = "db"
    default: str | None = None
    precision: int | None = None
    # Sugar echoes these as PHP booleans after save (is_admin, noninheritable).
    echo_bool: bool = False
    # The user_hash guard: dropped from the object form of name_value_list, never returned.
    sensitive: bool = False
    group: str = ""
    id_name: str = ""
    related_module: str = ""

    @property
    def sql_type(self) -> str:
        """SQLite column type (MySQL's case-insensitive collation for text, like
        utf8_general_ci)."""
        if self.type in ("int", "bool"):
            return "INTEGER"
        if self.type in ("decimal", "currency", "float"):
            return "NUMERIC"
        return "TEXT COLLATE NOCASE"


@dataclass(frozen=True)
class LinkDef:
    """A link field: how records of this module reach records of another one.

    ``m2m``: a join table with ``self_col``/``other_col`` (and fixed ``extra`` columns such as
    ``related_type``); ``parent``: the other module points here through parent_type/parent_id;
    ``email``: email_addr_bean_rel.
    """

    name: str
    relationship: str
    related_module: str
    kind: LinkKind = "m2m"
    table: str = ""
    self_col: str = ""
    other_col: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    bean_name: str = ""
    # The relationship columns Link2::getRelatedFields would accept; none of ours declare any,
    # which is why access_override / primary_group sent through set_relationship are dropped.
    rel_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModuleDef:
    """A module: its name (case-sensitive, as in Sugar), table, bean name and fields/links."""

    name: str
    table: str
    object_name: str
    fields: tuple[FieldDef, ...]
    links: tuple[LinkDef, ...] = ()
    label: str = ""

    def field_map(self) -> dict[str, FieldDef]:
        """Fields by name, in vardef order."""
        return {f.name: f for f in self.fields}

    def link_map(self) -> dict[str, LinkDef]:
        """Links by (case-sensitive) name."""
        return {lk.name: lk for lk in self.links}

    @property
    def db_columns(self) -> list[FieldDef]:
        """Fields stored in the module's own table."""
        return [f for f in self.fields if f.source == "db"]


def _f(name: str, type_: str = "varchar", label: str = "", **kw: object) -> FieldDef:
    return FieldDef(name=name, type=type_, label=label or name.replace("_", " ").title(), **kw)  # type: ignore[arg-type]


def _common(label_name: str = "Name:") -> list[FieldDef]:
    """The SugarBean basics every module has."""
    return [
        _f("id", "id", "ID", required=True),
        _f("name", "name", label_name, len=150, required=True),
        _f("date_entered", "datetime", "Date Created:"),
        _f("date_modified", "datetime", "Date Modified:"),
        _f(
            "modified_user_id",
            "assigned_user_name",
            "Modified By Id",
            len=36,
            id_name="modified_user_id",
        ),
        _f("modified_by_name", "assigned_user_name", "Modified By", source="non-db"),
        _f("created_by", "assigned_user_name", "Created By Id", len=36, id_name="created_by"),
        _f("created_by_name", "assigned_user_name", "Created By", source="non-db"),
        _f("description", "text", "Description:"),
        _f("deleted", "bool", "Deleted"),
    ]


def _assigned() -> list[FieldDef]:
    return [
        _f("assigned_user_id", "relate", "Assigned User Id", len=36, related_module="Users"),
        _f(
            "assigned_user_name",
            "relate",
            "Assigned to",
            source="non-db",
            id_name="assigned_user_id",
            related_module="Users",
        ),
    ]


def _address(prefix: str) -> list[FieldDef]:
    lens = {"street": 150, "street_2": 150, "street_3": 150, "street_4": 150, "postalcode": 20}
    parts = ["street", "street_2", "street_3", "street_4", "city", "state", "postalcode", "country"]
    return [_f(f"{prefix}_address_{p}", "varchar", len=lens.get(p, 100)) for p in parts]


_ACCOUNT_TYPES = {
    "": "",
    "Analyst": "Analyst",
    "Competitor": "Competitor",
    "Customer": "Customer",
    "Integrator": "Integrator",
    "Investor": "Investor",
    "Partner": "Partner",
    "Press": "Press",
    "Prospect": "Prospect",
    "Reseller": "Reseller",
    "Other": "Other",
}
_INDUSTRIES = {
    k: k
    for k in [
        "",
        "Apparel",
        "Banking",
        "Biotechnology",
        "Chemicals",
        "Communications",
        "Construction",
        "Consulting",
        "Education",
        "Electronics",
        "Energy",
        "Engineering",
        "Entertainment",
        "Environmental",
        "Finance",
        "Government",
        "Healthcare",
        "Hospitality",
        "Insurance",
        "Machinery",
        "Manufacturing",
        "Media",
        "Not For Profit",
        "Recreation",
        "Retail",
        "Shipping",
        "Technology",
        "Telecommunications",
        "Transportation",
        "Utilities",
        "Other",
    ]
}

_EMAIL_FIELDS = [
    _f("email1", "varchar", "Email Address:", source="non-db"),
    _f("email_addresses_non_primary", "email", "Non Primary E-mails", source="non-db"),
    _f("email_opt_out", "bool", "Email Opt Out:", source="non-db"),
    _f("invalid_email", "bool", "Invalid Email:", source="non-db"),
    _f("email", "email", "Any Email", source="non-db"),
]


def _m2m(
    name: str,
    relationship: str,
    related: str,
    table: str,
    self_col: str,
    other_col: str,
    extra: Mapping[str, str] | None = None,
    bean_name: str = "",
) -> LinkDef:
    return LinkDef(
        name=name,
        relationship=relationship,
        related_module=related,
        kind="m2m",
        table=table,
        self_col=self_col,
        other_col=other_col,
        extra=dict(extra or {}),
        bean_name=bean_name,
    )


ACCOUNTS = ModuleDef(
    name="Accounts",
    table="accounts",
    object_name="Account",
    label="Accounts",
    fields=(
        *_common(),
        *_assigned(),
        _f("account_type", "enum", "Type:", len=50, options=_ACCOUNT_TYPES),
        _f("industry", "enum", "Industry:", len=50, options=_INDUSTRIES),
        _f("annual_revenue", "varchar", "Annual Revenue:", len=100),
        _f("phone_fax", "phone", "Fax:", len=100),
        *_address("billing"),
        _f("rating", "varchar", "Rating:", len=100),
        _f("phone_office", "phone", "Office Phone:", len=100),
        _f("phone_alternate", "phone", "Other Phone:", len=100),
        _f("website", "url", "Website:", len=255),
        _f("ownership", "varchar", "Ownership:", len=100),
        _f("employees", "varchar", "Employees:", len=10),
        _f("ticker_symbol", "varchar", "Ticker Symbol:", len=10),
        *_address("shipping"),
        *_EMAIL_FIELDS,
        _f("parent_id", "id", "Parent Account ID", len=36),
        _f("sic_code", "varchar", "SIC Code:", len=10),
        _f("parent_name", "relate", "Member of:", source="non-db", related_module="Accounts"),
        _f("campaign_id", "id", "Campaign ID", len=36),
        _f("campaign_name", "relate", "Campaign:", source="non-db", related_module="Campaigns"),
        # SuiteCRM ships these on Accounts: every saved account therefore has an accounts_cstm row.
        _f("jjwg_maps_address_c", "varchar", "Address", len=255, source="custom_fields"),
        _f(
            "jjwg_maps_geocode_status_c",
            "varchar",
            "Geocode Status",
            len=255,
            source="custom_fields",
        ),
        _f(
            "jjwg_maps_lat_c",
            "float",
            "Latitude",
            len=10,
            precision=8,
            source="custom_fields",
            default="0",
        ),
        _f(
            "jjwg_maps_lng_c",
            "float",
            "Longitude",
            len=11,
            precision=8,
            source="custom_fields",
            default="0",
        ),
    ),
    links=(
        _m2m(
            "SecurityGroups",
            "securitygroups_accounts",
            "SecurityGroups",
            "securitygroups_records",
            "record_id",
            "securitygroup_id",
            {"module": "Accounts"},
            "SecurityGroup",
        ),
        LinkDef("email_addresses", "accounts_email_addresses", "EmailAddresses", kind="email"),
        _m2m(
            "prospect_lists",
            "prospect_list_accounts",
            "ProspectLists",
            "prospect_lists_prospects",
            "related_id",
            "prospect_list_id",
            {"related_type": "Accounts"},
        ),
        LinkDef("tasks", "account_tasks", "Tasks", kind="parent"),
        LinkDef("calls", "account_calls", "Calls", kind="parent"),
    ),
)

USERS = ModuleDef(
    name="Users",
    table="users",
    object_name="User",
    label="Users",
    fields=(
        _f("id", "id", "ID", required=True),
        _f("user_name", "user_name", "Username", len="60", required=True),
        _f("user_hash", "varchar", "Password", len="255", sensitive=True),
        _f("system_generated_password", "bool", "System Generated Password", required=True),
        _f("pwd_last_changed", "datetime", "Password Last Changed"),
        _f("authenticate_id", "varchar", "Authentication Id", len="100"),
        _f("sugar_login", "bool", "Is Sugar User"),
        _f("first_name", "name", "First Name", len="255"),
        _f("last_name", "name", "Last Name", len="255", required=True),
        _f("full_name", "name", "Full Name", source="non-db"),
        _f("name", "varchar", "Full Name", source="non-db"),
        _f("is_admin", "bool", "Is Administrator", echo_bool=True),
        _f("external_auth_only", "bool", "Only External Authentication"),
        _f("receive_notifications", "bool", "Notify on Assignment"),
        _f("description", "text", "Description"),
        _f("date_entered", "datetime", "Date Entered", required=True),
        _f("date_modified", "datetime", "Date Modified", required=True),
        _f("modified_user_id", "assigned_user_name", "Modified By Id", len=36),
        _f("modified_by_name", "assigned_user_name", "Modified By", source="non-db"),
        _f("created_by", "assigned_user_name", "Assigned to", len=36),
        _f("created_by_name", "assigned_user_name", "Created By", source="non-db"),
        _f("title", "varchar", "Title", len="50"),
        _f("department", "varchar", "Department", len="50"),
        _f("phone_home", "phone", "Home Phone", len="50"),
        _f("phone_mobile", "phone", "Mobile", len="50"),
        _f("phone_work", "phone", "Work Phone", len="50"),
        _f("phone_other", "phone", "Other Phone", len="50"),
        _f("phone_fax", "phone", "Fax", len="50"),
        _f(
            "status",
            "enum",
            "Status",
            len=100,
            required=True,
            options={"Active": "Active", "Inactive": "Inactive"},
        ),
        _f("address_street", "varchar", "Address Street", len="150"),
        _f("address_city", "varchar", "Address City", len="100"),
        _f("address_state", "varchar", "Address State", len="100"),
        _f("address_country", "varchar", "Address Country", len="100"),
        _f("address_postalcode", "varchar", "Address Postal Code", len="20"),
        _f("UserType", "enum", "User Type", source="non-db"),
        _f("deleted", "bool", "Deleted"),
        _f("portal_only", "bool", "Portal Only User"),
        _f("show_on_employees", "bool", "Display Employee Record"),
        _f("employee_status", "varchar", "Employee Status", len="100"),
        _f("messenger_id", "varchar", "IM Name", len="100"),
        _f("messenger_type", "enum", "IM Type", len=100),
        _f("reports_to_id", "id", "Reports to ID", len=36),
        _f("reports_to_name", "relate", "Reports to", source="non-db", related_module="Users"),
        _f("email1", "varchar", "Email Address", source="non-db", required=True),
        _f("is_group", "bool", "Group User"),
        _f("factor_auth", "bool", "Two Factor Authentication"),
    ),
    links=(
        LinkDef("email_addresses", "users_email_addresses", "EmailAddresses", kind="email"),
        _m2m("aclroles", "acl_roles_users", "ACLRoles", "acl_roles_users", "user_id", "role_id"),
        _m2m(
            "SecurityGroups",
            "securitygroups_users",
            "SecurityGroups",
            "securitygroups_users",
            "user_id",
            "securitygroup_id",
            bean_name="SecurityGroup",
        ),
    ),
)

ACL_ROLES = ModuleDef(
    name="ACLRoles",
    table="acl_roles",
    object_name="ACLRole",
    label="Roles",
    fields=(
        _f("id", "id", "ID", required=True),
        _f("date_entered", "datetime", "Date Created:", required=True),
        _f("date_modified", "datetime", "Date Modified:", required=True),
        _f("modified_user_id", "assigned_user_name", "Modified by", len=36),
        _f("created_by", "assigned_user_name", "Created by", len=36),
        _f("name", "varchar", "Name", len=150),
        _f("description", "text", "Description"),
        _f("deleted", "bool", "Deleted"),
        _f("modified_by_name", "assigned_user_name", "Modified By", source="non-db"),
        _f("created_by_name", "assigned_user_name", "Created By", source="non-db"),
    ),
    links=(
        _m2m("users", "acl_roles_users", "Users", "acl_roles_users", "role_id", "user_id"),
        _m2m(
            "actions",
            "acl_roles_actions",
            "ACLActions",
            "acl_roles_actions",
            "role_id",
            "action_id",
        ),
        _m2m(
            "SecurityGroups",
            "securitygroups_acl_roles",
            "SecurityGroups",
            "securitygroups_acl_roles",
            "role_id",
            "securitygroup_id",
            bean_name="SecurityGroup",
        ),
    ),
)

ACL_ACTIONS = ModuleDef(
    name="ACLActions",
    table="acl_actions",
    object_name="ACLAction",
    label="Actions",
    fields=(
        _f("id", "id", "ID", required=True),
        _f("date_entered", "datetime", "Date Created:"),
        _f("date_modified", "datetime", "Date Modified:"),
        _f("modified_user_id", "assigned_user_name", "Modified by", len=36),
        _f("created_by", "assigned_user_name", "Created by", len=36),
        _f("name", "varchar", "Name", len=150),
        _f("category", "varchar", "Category", len=100),
        _f("acltype", "varchar", "Type", len=100),
        _f("aclaccess", "int", "Access", len=3),
        _f("deleted", "bool", "Deleted"),
    ),
    links=(
        _m2m("roles", "acl_roles_actions", "ACLRoles", "acl_roles_actions", "action_id", "role_id"),
    ),
)

SECURITY_GROUPS = ModuleDef(
    name="SecurityGroups",
    table="securitygroups",
    object_name="SecurityGroup",
    label="Security Groups",
    fields=(
        *_common("Name"),
        *_assigned(),
        _f("noninheritable", "bool", "Not Inheritable", echo_bool=True),
    ),
    links=(
        _m2m(
            "users",
            "securitygroups_users",
            "Users",
            "securitygroups_users",
            "securitygroup_id",
            "user_id",
        ),
        _m2m(
            "aclroles",
            "securitygroups_acl_roles",
            "ACLRoles",
            "securitygroups_acl_roles",
            "securitygroup_id",
            "role_id",
        ),
    ),
)

PROSPECT_LISTS = ModuleDef(
    name="ProspectLists",
    table="prospect_lists",
    object_name="ProspectList",
    label="Target Lists",
    fields=(
        *_common("Name:"),
        *_assigned(),
        _f(
            "list_type",
            "enum",
            "Type:",
            len=100,
            required=True,
            options={
                k: v
                for k, v in [
                    ("default", "Default"),
                    ("seed", "Seed"),
                    ("exempt_domain", "Suppression List - By Domain"),
                    ("exempt_address", "Suppression List - By Email Address"),
                    ("exempt", "Suppression List - By Id"),
                    ("test", "Test"),
                ]
            },
        ),
        _f("domain_name", "varchar", "Domain Name:", len=255),
        _f("entry_count", "int", "Entry Count", source="non-db"),
    ),
    links=(
        _m2m(
            "accounts",
            "prospect_list_accounts",
            "Accounts",
            "prospect_lists_prospects",
            "prospect_list_id",
            "related_id",
            {"related_type": "Accounts"},
        ),
        _m2m(
            "campaigns",
            "prospect_list_campaigns",
            "Campaigns",
            "prospect_list_campaigns",
            "prospect_list_id",
            "campaign_id",
        ),
    ),
)

_PARENT_TYPES = {
    "Accounts": "Account",
    "Contacts": "Contact",
    "Tasks": "Task",
    "Opportunities": "Opportunity",
    "Bugs": "Bug",
    "Cases": "Case",
    "Leads": "Lead",
    "Project": "Project",
    "ProjectTask": "Project Task",
    "Prospects": "Target",
    "AOS_Contracts": "Contract",
    "AOS_Invoices": "Invoice",
    "AOS_Quotes": "Quote",
    "AOS_Products": "Product",
}


def _parent() -> list[FieldDef]:
    """The "Related To" fields of activities (Tasks, Calls): parent_type + parent_id."""
    return [
        _f(
            "parent_type",
            "parent_type",
            "Parent Type:",
            len="255",
            options=_PARENT_TYPES,
            group="parent_name",
        ),
        _f("parent_id", "id", "Parent ID:", len=36, group="parent_name"),
        _f("parent_name", "parent", "Related To:", source="non-db"),
    ]


TASKS = ModuleDef(
    name="Tasks",
    table="tasks",
    object_name="Task",
    label="Tasks",
    fields=(
        *_common("Subject:"),
        *_assigned(),
        _f(
            "status",
            "enum",
            "Status:",
            len=100,
            required=True,
            default="Not Started",
            options={
                k: k
                for k in ["Not Started", "In Progress", "Completed", "Pending Input", "Deferred"]
            },
        ),
        _f("date_due_flag", "bool", "No Due Date"),
        _f("date_due", "datetime", "Due Date:"),
        _f("date_start_flag", "bool", "No Start Date"),
        _f("date_start", "datetime", "Start Date:"),
        *_parent(),
        _f("contact_id", "id", "Contact ID:", len=36),
        _f(
            "priority",
            "enum",
            "Priority:",
            len=100,
            required=True,
            options={"High": "High", "Medium": "Medium", "Low": "Low"},
        ),
    ),
)

CALLS = ModuleDef(
    name="Calls",
    table="calls",
    object_name="Call",
    label="Calls",
    fields=(
        *_common("Subject:"),
        *_assigned(),
        _f("duration_hours", "int", "Duration Hours:", len=2),
        _f("duration_minutes", "int", "Duration Minutes:", len=2),
        _f("date_start", "datetime", "Start Date:"),
        _f("date_end", "datetime", "End Date:"),
        *_parent(),
        _f(
            "status",
            "enum",
            "Status:",
            len=100,
            default="Planned",
            options={"Planned": "Planned", "Held": "Held", "Not Held": "Not Held"},
        ),
        _f(
            "direction",
            "enum",
            "Direction:",
            len=100,
            options={"Inbound": "Inbound", "Outbound": "Outbound"},
        ),
        _f("reminder_time", "int", "Reminder Time", len=4),
    ),
)

CAMPAIGNS = ModuleDef(
    name="Campaigns",
    table="campaigns",
    object_name="Campaign",
    label="Campaigns",
    fields=(
        *_common("Campaign Name:"),
        *_assigned(),
        _f("tracker_key", "int", "Tracker Key:", len=11),
        _f("start_date", "date", "Start Date:"),
        _f("end_date", "date", "End Date:", required=True),
        _f(
            "status",
            "enum",
            "Status:",
            len=100,
            required=True,
            options={
                k: k
                for k in ["", "Planning", "Active", "Inactive", "Complete", "In Queue", "Sending"]
            },
        ),
        _f("impressions", "int", "Impressions:", len=11),
        _f("currency_id", "id", "Currency:", len=36),
        _f("budget", "float", "Budget:"),
        _f("expected_cost", "float", "Expected Cost:"),
        _f("actual_cost", "float", "Actual Cost:"),
        _f("expected_revenue", "float", "Expected Revenue:"),
        _f(
            "campaign_type",
            "enum",
            "Type:",
            len=100,
            required=True,
            options={
                k: k
                for k in [
                    "",
                    "Telesales",
                    "Mail",
                    "Email",
                    "Print",
                    "Web",
                    "Radio",
                    "Television",
                    "NewsLetter",
                ]
            },
        ),
        _f("objective", "text", "Objective:"),
        _f("content", "text", "Content:"),
        _f("frequency", "enum", "Frequency:", len=100),
    ),
    links=(
        _m2m(
            "prospectlists",
            "prospect_list_campaigns",
            "ProspectLists",
            "prospect_list_campaigns",
            "campaign_id",
            "prospect_list_id",
        ),
    ),
)

EMAIL_ADDRESSES = ModuleDef(
    name="EmailAddresses",
    table="email_addresses",
    object_name="EmailAddress",
    label="Email Addresses",
    fields=(
        _f("id", "id", "ID", required=True),
        _f("email_address", "varchar", "Email Address", len=255, required=True),
        _f("email_address_caps", "varchar", "Email Address caps", len=255, required=True),
        _f("invalid_email", "bool", "Invalid Email"),
        _f("opt_out", "bool", "Opted Out"),
        _f("date_created", "datetime", "Date Create"),
        _f("date_modified", "datetime", "Date Modified"),
        _f("deleted", "bool", "Delete"),
    ),
)

MODULES: dict[str, ModuleDef] = {
    m.name: m
    for m in (
        ACCOUNTS,
        USERS,
        ACL_ROLES,
        ACL_ACTIONS,
        SECURITY_GROUPS,
        PROSPECT_LISTS,
        TASKS,
        CALLS,
        CAMPAIGNS,
        EMAIL_ADDRESSES,
    )
}

# Modules whose rights ACL roles govern (category of the module-type acl_actions rows).
ACL_MODULES = ("Accounts", "ProspectLists", "Tasks", "Calls", "Campaigns", "SecurityGroups")
ACL_ACTION_DEFAULTS: dict[str, int] = {
    "access": 89,
    "view": 90,
    "list": 90,
    "edit": 90,
    "delete": 90,
    "import": 90,
    "export": 90,
    "massupdate": 90,
}

# Sugar's join tables: table → (columns besides id/date_modified/deleted).
JOIN_TABLES: dict[str, tuple[str, ...]] = {
    "acl_roles_users": ("role_id", "user_id"),
    "acl_roles_actions": ("role_id", "action_id", "access_override"),
    "securitygroups_users": ("securitygroup_id", "user_id", "primary_group", "noninheritable"),
    "securitygroups_acl_roles": ("securitygroup_id", "role_id"),
    "securitygroups_records": ("securitygroup_id", "record_id", "module"),
    "prospect_lists_prospects": ("prospect_list_id", "related_id", "related_type"),
    "prospect_list_campaigns": ("prospect_list_id", "campaign_id"),
    "email_addr_bean_rel": ("email_address_id", "bean_id", "bean_module", "primary_address"),
}
