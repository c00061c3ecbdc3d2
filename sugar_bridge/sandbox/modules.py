"""The modules the sandbox serves, described the way Sugar's vardefs describe them.

Each module has a table shaped like Sugar's (same table and column names, so `query` strings written
for a real Sugar run unchanged), its fields (db, non-db and the custom ones that SuiteCRM ships) and
its links (name → relationship). Custom fields added at run time live in ``fields_meta_data`` and
``<table>_cstm`` (see ``store.py``); this module only knows the static part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

FieldSource = Literal["db", "non-db", "custom_fields"]
LinkKind = Literal["m2m", "parent", "email", "fk", "fk_self", "parent_self"]


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
    # The column's SQL type when it is not what ``type`` implies (opportunities.amount is a
    # MySQL double: read back as PHP prints a float, "17500", "2500.75").
    db_type: str = ""
    # Left out of get_entry answers when it has no value (what a relate field filled from a
    # link does when there is no related record: Contacts.account_name, seen live).
    omit_empty: bool = False
    # Further keys get_module_fields shows for this field (parentenum, type_name).
    api_extra: Mapping[str, str] = field(default_factory=dict)
    # What a non-db field always answers (Meetings reminder_checked: a JSON false, seen live).
    constant: bool | None = None

    @property
    def db_scale(self) -> int | None:
        """Decimals the column keeps. Custom currency fields are decimal(26,6) columns whatever
        precision they declare (MysqlManager maps currency to decimal(26,6)); SuiteCRM 7.15
        answers them with 6 decimals ("1234.567000")."""
        if self.type == "currency" and self.source == "custom_fields":
            return 6
        return self.precision

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
    ``parent_self``: this module points at the other one through its own parent_type/parent_id;
    ``fk``: the other module's column ``other_col`` holds this record's id (a one-to-many such as
    account_cases, cases.account_id); ``fk_self``: this module's column ``self_col`` holds the
    other record's id (the same relationship seen from Cases); ``email``: email_addr_bean_rel.
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
    # Whether marking a record deleted (SugarBean::mark_relationships_deleted) also drops this
    # link: seen live for Contacts/Opportunities ``accounts`` (join rows) and Cases ``accounts``
    # (account_id emptied), not for Leads ``accounts`` nor the parent of Meetings/Notes.
    cleared_on_delete: bool = False


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
    cleared_on_delete: bool = False,
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
        cleared_on_delete=cleared_on_delete,
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
        _m2m(
            "contacts",
            "accounts_contacts",
            "Contacts",
            "accounts_contacts",
            "account_id",
            "contact_id",
            bean_name="Contact",
        ),
        _m2m(
            "opportunities",
            "accounts_opportunities",
            "Opportunities",
            "accounts_opportunities",
            "account_id",
            "opportunity_id",
            bean_name="Opportunity",
        ),
        LinkDef(
            "cases", "account_cases", "Cases", kind="fk", other_col="account_id", bean_name="aCase"
        ),
        LinkDef(
            "leads", "account_leads", "Leads", kind="fk", other_col="account_id", bean_name="Lead"
        ),
        LinkDef("meetings", "account_meetings", "Meetings", kind="parent", bean_name="Meeting"),
        LinkDef("notes", "account_notes", "Notes", kind="parent", bean_name="Note"),
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
        # a varchar name, neither it nor list_type required in the vardefs (recording 20_14)
        *(
            replace(f, type="varchar", required=False) if f.name == "name" else f
            for f in _common("Name:")
        ),
        *_assigned(),
        _f(
            "list_type",
            "enum",
            "Type:",
            len=100,
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
        # People on the same table, told apart by related_type (recordings 19_*).
        _m2m(
            "contacts",
            "prospect_list_contacts",
            "Contacts",
            "prospect_lists_prospects",
            "prospect_list_id",
            "related_id",
            {"related_type": "Contacts"},
        ),
        _m2m(
            "leads",
            "prospect_list_leads",
            "Leads",
            "prospect_lists_prospects",
            "prospect_list_id",
            "related_id",
            {"related_type": "Leads"},
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
        _f(
            "parent_name",
            "parent",
            "Related To:",
            source="non-db",
            api_extra={"type_name": "parent_type"},
        ),
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
        # set_entry echoes it as a JSON boolean (18_02_task_create, SuiteCRM 7.15.0)
        _f("date_due_flag", "bool", "No Due Date", echo_bool=True),
        _f("date_due", "datetimecombo", "Due Date:"),
        _f("date_start_flag", "bool", "No Start Date"),
        _f("date_start", "datetimecombo", "Start Date:"),
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
        # types and required flags as SuiteCRM 7.15 declares them (recording 20_12)
        _f("duration_hours", "int", "Duration Hours:", len=2, required=True),
        _f("duration_minutes", "int", "Duration Minutes:", len=2),
        _f("date_start", "datetimecombo", "Start Date:", required=True),
        _f("date_end", "datetimecombo", "End Date:"),
        *_parent(),
        _f(
            "status",
            "enum",
            "Status:",
            len=100,
            required=True,
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
        _f("reminder_time", "enum", "Reminder Time", len=4),
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


# --- Contacts, Leads, Opportunities, Cases, Meetings, Notes ------------------------------------
# Fields as SuiteCRM 7.15.0's get_module_fields lists them (tests/recordings/suitecrm-7.15.0,
# the *_02_get_module_fields_* exchanges), with the source (db column, non-db, <table>_cstm) its
# tables show. Left out: function/readonly/image fields and the helper relate fields of meeting
# invitations, events and opportunity roles.

_SALUTATIONS: dict[str, str] = {
    "": "",
    "Mr.": "Mr.",
    "Ms.": "Ms.",
    "Mrs.": "Mrs.",
    "Miss": "Miss",
    "Dr.": "Dr.",
    "Prof.": "Prof.",
}
_LAWFUL_BASIS: dict[str, str] = {
    "": "",
    "consent": "Consent",
    "contract": "Contract",
    "legal_obligation": "Legal obligation",
    "protection_of_interest": "Protection of interest",
    "public_interest": "Public interest",
    "legitimate_interest": "Legitimate interest",
    "withdrawn": "Withdrawn",
}
_LAWFUL_BASIS_SOURCES: dict[str, str] = {
    "": "",
    "website": "Website",
    "phone": "Phone",
    "given_to_user": "Given to User",
    "email": "Email",
    "third_party": "Third Party",
}
_LEAD_SOURCES: dict[str, str] = {
    "": "",
    "Cold Call": "Cold Call",
    "Existing Customer": "Existing Customer",
    "Self Generated": "Self Generated",
    "Employee": "Employee",
    "Partner": "Partner",
    "Public Relations": "Public Relations",
    "Direct Mail": "Direct Mail",
    "Conference": "Conference",
    "Trade Show": "Trade Show",
    "Web Site": "Web Site",
    "Word of mouth": "Word of mouth",
    "Email": "Email",
    "Campaign": "Campaign",
    "Other": "Other",
}
_PORTAL_USER_TYPES: dict[str, str] = {"Single": "Single user", "Account": "Account user"}
_LEAD_STATUSES: dict[str, str] = {
    "": "",
    "New": "New",
    "Assigned": "Assigned",
    "In Process": "In Process",
    "Converted": "Converted",
    "Recycled": "Recycled",
    "Dead": "Dead",
}
_OPPORTUNITY_TYPES: dict[str, str] = {
    "": "",
    "Existing Business": "Existing Business",
    "New Business": "New Business",
}
_SALES_STAGES: dict[str, str] = {
    "Prospecting": "Prospecting",
    "Qualification": "Qualification",
    "Needs Analysis": "Needs Analysis",
    "Value Proposition": "Value Proposition",
    "Id. Decision Makers": "Identifying Decision Makers",
    "Perception Analysis": "Perception Analysis",
    "Proposal/Price Quote": "Proposal/Price Quote",
    "Negotiation/Review": "Negotiation/Review",
    "Closed Won": "Closed Won",
    "Closed Lost": "Closed Lost",
}
_CASE_TYPES: dict[str, str] = {
    "Administration": "Administration",
    "Product": "Product",
    "User": "User",
}
_CASE_STATUSES: dict[str, str] = {
    "Open_New": "New",
    "Open_Assigned": "Assigned",
    "Closed_Closed": "Closed",
    "Open_Pending Input": "Pending Input",
    "Closed_Rejected": "Rejected",
    "Closed_Duplicate": "Duplicate",
}
_CASE_PRIORITIES: dict[str, str] = {"P1": "High", "P2": "Medium", "P3": "Low"}
_CASE_STATES: dict[str, str] = {"Open": "Open", "Closed": "Closed"}
_MEETING_STATUSES: dict[str, str] = {"Planned": "Planned", "Held": "Held", "Not Held": "Not Held"}
_MEETING_TYPES: dict[str, str] = {
    "Sugar": "SuiteCRM",
    "WebEx": "WebEx",
    "GoToMeeting": "GoToMeeting",
    "IBMSmartCloud": "IBM SmartCloud",
    "Google": "Google",
    "Box": "Box.net",
    "Facebook": "Facebook",
    "Twitter": "Twitter",
}
_DIRECTIONS: dict[str, str] = {"Inbound": "Inbound", "Outbound": "Outbound"}
_REMINDER_TIMES: dict[str, str] = {
    "60": "1 minute prior",
    "300": "5 minutes prior",
    "600": "10 minutes prior",
    "900": "15 minutes prior",
    "1800": "30 minutes prior",
    "3600": "1 hour prior",
    "7200": "2 hours prior",
    "10800": "3 hours prior",
    "18000": "5 hours prior",
    "86400": "1 day prior",
}
_REPEAT_TYPES: dict[str, str] = {
    "": "None",
    "Daily": "Daily",
    "Weekly": "Weekly",
    "Monthly": "Monthly",
    "Yearly": "Yearly",
}
_DURATIONS: dict[str, str] = {
    "": "None",
    "900": "15 minutes",
    "1800": "30 minutes",
    "2700": "45 minutes",
    "3600": "1 hour",
    "5400": "1.5 hours",
    "7200": "2 hours",
    "10800": "3 hours",
    "21600": "6 hours",
    "86400": "1 day",
    "172800": "2 days",
    "259200": "3 days",
    "604800": "1 week",
}

# --- SuiteCRM's vardef templates (include/SugarObjects/templates/*/vardefs.php) ---------------
# The recorded modules take the fields they share from these functions, as SuiteCRM takes them
# from its templates; what the template leaves to each module (its language strings, a length) is
# a parameter. The older modules above keep ``_common``/``_assigned``: written by hand before the
# recordings, they are not the same data (len 36 on the user ids, no groups, deleted without a
# default), so moving them onto these templates would change their get_module_fields answers.


def _name(label: str, len_: int | str) -> FieldDef:
    """The basic template's ``name`` with the module's label and length."""
    return _f("name", "name", label, len=len_, required=True)


def _audit_user(id_field: str, name_field: str, label: str, grouped: bool = True) -> list[FieldDef]:
    """A user reference of the basic template (modified_user_id/modified_by_name or
    created_by/created_by_name). created_by's id_name is ``modified_user_id`` in the template
    itself; the non-db half answers the same type and id_name as its id field (recorded)."""
    group = name_field if grouped else ""
    return [
        _f(id_field, "assigned_user_name", label, group=group, id_name="modified_user_id"),
        _f(
            name_field,
            "assigned_user_name",
            label,
            source="non-db",
            group=group,
            id_name="modified_user_id",
        ),
    ]


def _basic(
    name: FieldDef,
    *,
    id_label: str = "ID",
    date_entered_label: str = "Date Created",
    date_modified_label: str = "Date Modified",
    modified_by_label: str = "Modified By",
) -> list[FieldDef]:
    """The basic template ("default" in createVardef): id, name, the created/modified fields,
    description and deleted."""
    return [
        _f("id", "id", id_label, required=True),
        name,
        _f("date_entered", "datetime", date_entered_label, group="created_by_name"),
        _f("date_modified", "datetime", date_modified_label, group="modified_by_name"),
        *_audit_user("modified_user_id", "modified_by_name", modified_by_label),
        *_audit_user("created_by", "created_by_name", "Created By"),
        _f("description", "text", "Description:"),
        _f("deleted", "bool", "Deleted", default="0"),
    ]


def _assignable(
    id_label: str = "Assigned User Id", name_label: str = "Assigned to"
) -> list[FieldDef]:
    """The assignable template: assigned_user_id and its relate field assigned_user_name."""
    return [
        _f(
            "assigned_user_id",
            "relate",
            id_label,
            group="assigned_user_name",
            id_name="assigned_user_id",
            related_module="Users",
        ),
        _f(
            "assigned_user_name",
            "relate",
            name_label,
            source="non-db",
            id_name="assigned_user_id",
            related_module="Users",
        ),
    ]


# The person template's ``name``: not a column, built from first_name and last_name.
_PERSON_NAME = _f("name", "name", "Name:", len="255", source="non-db", group="last_name")


def _person_address(
    prefix: str, label: str, postalcode_label: str, label_suffix: str
) -> list[FieldDef]:
    """One address of the person template (``primary`` or ``alt``); street 2 and 3 are
    non-db."""
    group = f"{prefix}_address"

    def part(name: str, part_label: str, len_: str = "", **kw: object) -> FieldDef:
        return _f(
            f"{group}_{name}", "varchar", f"{label} {part_label}{label_suffix}", len=len_, **kw
        )

    return [
        part("street", "Street", "150", group=group),
        part("street_2", "Street 2", "150", source="non-db"),
        part("street_3", "Street 3", "150", source="non-db"),
        part("city", "City", "100", group=group),
        part("state", "State", "100", group=group),
        part("postalcode", postalcode_label, "20", group=group),
        part("country", "Country", group=group),
    ]


def _person(
    *,
    label_suffix: str = "",
    department_len: str = "100",
    phone_home_label: str = "Home Phone:",
    alt_address_label: str = "Alt Address",
    postalcode_label: str = "Postalcode",
) -> list[FieldDef]:
    """The person template from salutation to assistant_phone (its ``name`` is
    ``_PERSON_NAME``). ``label_suffix`` is the ":" some modules' strings end with (Contacts'
    "Salutation:", Leads' "Salutation")."""
    s = label_suffix
    return [
        _f("salutation", "enum", f"Salutation{s}", len="255", options=_SALUTATIONS),
        _f("first_name", "varchar", "First Name:", len="100"),
        _f("last_name", "varchar", "Last Name:", len="100", required=True),
        _f("full_name", "fullname", "Name:", len="510", source="non-db", group="last_name"),
        _f("title", "varchar", "Job Title:", len="100"),
        _f("department", "varchar", "Department:", len=department_len),
        _f("do_not_call", "bool", "Do Not Call:", default="0"),
        _f("phone_home", "phone", phone_home_label, len=100),
        _f("phone_mobile", "phone", "Mobile:", len=100),
        _f("phone_work", "phone", "Office Phone:", len=100),
        _f("phone_other", "phone", "Other Phone:", len=100),
        _f("phone_fax", "phone", "Fax:", len=100),
        _f("email1", "varchar", "Email Address:", source="non-db", group="email1"),
        _f("lawful_basis", "multienum", "Lawful Basis", len=100, options=_LAWFUL_BASIS),
        _f("date_reviewed", "date", "Lawful Basis Date Reviewed"),
        _f(
            "lawful_basis_source",
            "enum",
            "Lawful Basis Source",
            len=100,
            options=_LAWFUL_BASIS_SOURCES,
        ),
        *_person_address("primary", "Primary Address", postalcode_label, s),
        *_person_address("alt", alt_address_label, postalcode_label, s),
        _f("assistant", "varchar", f"Assistant{s}", len="75"),
        _f("assistant_phone", "phone", f"Assistant Phone{s}", len=100, group="assistant"),
    ]


# The Google Maps custom fields SuiteCRM ships (jjwg_maps, in <table>_cstm), as the recorded
# modules list them. Accounts (above) has its own older copy: other order, lengths and defaults.
_JJWG_MAPS_FIELDS: tuple[FieldDef, ...] = (
    _f(
        "jjwg_maps_geocode_status_c", "varchar", "Geocode Status", len="255", source="custom_fields"
    ),
    _f(
        "jjwg_maps_lng_c",
        "float",
        "Longitude",
        len="11",
        source="custom_fields",
        default="0.00000000",
        precision=8,
    ),
    _f("jjwg_maps_address_c", "varchar", "Address", len="255", source="custom_fields"),
    _f(
        "jjwg_maps_lat_c",
        "float",
        "Latitude",
        len="10",
        source="custom_fields",
        default="0.00000000",
        precision=8,
    ),
)

# Relate fields Contacts, Leads (and Opportunities, for the campaign) declare alike in their own
# vardefs. ``len="id"`` on report_to_name is what SuiteCRM answers.
_CAMPAIGN_NAME = _f(
    "campaign_name",
    "relate",
    "Campaign:",
    source="non-db",
    id_name="campaign_id",
    related_module="Campaigns",
)
_REPORT_TO_NAME = _f(
    "report_to_name",
    "relate",
    "Reports To:",
    len="id",
    source="non-db",
    id_name="reports_to_id",
    related_module="Contacts",
)

_CONTACT_FIELDS: tuple[FieldDef, ...] = (
    *_basic(
        _PERSON_NAME,
        id_label="ID:",
        date_modified_label="Date Modified:",
        modified_by_label="Modified By:",
    ),
    *_assignable("Assigned User", "Assigned to:"),
    *_person(
        label_suffix=":",
        department_len="255",
        phone_home_label="Home:",
        alt_address_label="Alternate Address",
        postalcode_label="Postal Code",
    ),
    _f("lead_source", "enum", "Lead Source:", len="255", options=_LEAD_SOURCES),
    _f(
        "account_name",
        "relate",
        "Account Name:",
        len="255",
        source="non-db",
        id_name="account_id",
        related_module="Accounts",
    ),
    _f(
        "account_id",
        "relate",
        "Account ID:",
        source="non-db",
        id_name="account_id",
        related_module="Accounts",
    ),
    _f("reports_to_id", "id", "Reports to ID:"),
    _REPORT_TO_NAME,
    _f("birthdate", "date", "Birthdate:"),
    _f("campaign_id", "id", "Campaign ID", id_name="campaign_id", related_module="Campaigns"),
    _CAMPAIGN_NAME,
    _f("joomla_account_id", "varchar", "Joomla Account ID", len="255"),
    _f("portal_account_disabled", "bool", "Account Disabled"),
    _f("joomla_account_access", "varchar", "LBL_JOOMLA_ACCOUNT_ACCESS", len="255", source="non-db"),
    _f(
        "portal_user_type",
        "enum",
        "Portal User Type",
        len="100",
        options=_PORTAL_USER_TYPES,
        default="Single",
    ),
    *_JJWG_MAPS_FIELDS,
)

_LEAD_FIELDS: tuple[FieldDef, ...] = (
    *_basic(_PERSON_NAME),
    *_assignable("Assigned User:", "Assigned to"),
    *_person(),
    _f("converted", "bool", "Converted", default="0"),
    _f("refered_by", "varchar", "Referred By:", len="100"),
    _f("lead_source", "enum", "Lead Source:", len="100", options=_LEAD_SOURCES),
    _f("lead_source_description", "text", "Lead Source Description:", group="lead_source"),
    _f("status", "enum", "Status:", len="100", options=_LEAD_STATUSES),
    _f("status_description", "text", "Status Description:", group="status"),
    _f("reports_to_id", "id", "Reports To ID"),
    _REPORT_TO_NAME,
    _f("account_name", "varchar", "Account Name:", len="255"),
    _f("account_description", "text", "Account Description", group="account_name"),
    _f("contact_id", "id", "Contact ID"),
    _f("account_id", "id", "Account ID"),
    _f("opportunity_id", "id", "Opportunity ID"),
    _f("opportunity_name", "varchar", "Opportunity Name:", len="255"),
    _f("opportunity_amount", "varchar", "Opportunity Amount:", len="50", group="opportunity_name"),
    _f("campaign_id", "id", "Campaign ID"),
    _CAMPAIGN_NAME,
    _f("birthdate", "date", "Birthdate:"),
    _f("portal_name", "varchar", "Portal Name:", len="255", group="portal"),
    _f("portal_app", "varchar", "Portal Application", len="255", group="portal"),
    _f("website", "url", "Website", len=255),
    *_JJWG_MAPS_FIELDS,
)

_OPPORTUNITY_FIELDS: tuple[FieldDef, ...] = (
    *_basic(_name("Opportunity Name:", "50")),
    *_assignable("Assigned User:", "Assigned to:"),
    _f("opportunity_type", "enum", "Type:", len="255", options=_OPPORTUNITY_TYPES),
    _f(
        "account_name",
        "relate",
        "Account Name:",
        len="255",
        required=True,
        source="non-db",
        id_name="account_id",
        related_module="Accounts",
    ),
    _f("account_id", "id", "Account ID", source="non-db"),
    _f("campaign_id", "id", "campaign_id"),
    _CAMPAIGN_NAME,
    _f("lead_source", "enum", "Lead Source:", len="50", options=_LEAD_SOURCES),
    _f("amount", "currency", "Opportunity Amount:", required=True, db_type="double"),
    _f("amount_usdollar", "currency", "Amount:", group="amount", db_type="double"),
    _f("currency_id", "id", "Currency:", group="currency_id"),
    _f(
        "currency_name",
        "relate",
        "Currency Name",
        source="non-db",
        id_name="currency_id",
        related_module="Currencies",
    ),
    _f(
        "currency_symbol",
        "relate",
        "Currency Symbol",
        source="non-db",
        id_name="currency_id",
        related_module="Currencies",
    ),
    _f("date_closed", "date", "Expected Close Date:", required=True),
    _f("next_step", "varchar", "Next Step:", len="100"),
    _f("sales_stage", "enum", "Sales Stage:", len="255", required=True, options=_SALES_STAGES),
    _f("probability", "int", "Probability (%):", db_type="double"),
    *_JJWG_MAPS_FIELDS,
)

_CASE_FIELDS: tuple[FieldDef, ...] = (
    *_basic(
        _name("Subject:", 255),
        date_entered_label="Date Created:",
        date_modified_label="Date Modified:",
    ),
    *_assignable("Assigned To:", "Assigned to"),
    _f("case_number", "int", "Number:", len=11, required=True),
    _f("type", "enum", "Type", len=255, options=_CASE_TYPES),
    _f(
        "status",
        "dynamicenum",
        "Status:",
        len=100,
        options=_CASE_STATUSES,
        api_extra={"parentenum": "state"},
    ),
    _f("priority", "enum", "Priority:", len=100, options=_CASE_PRIORITIES),
    _f("resolution", "text", "Resolution:"),
    _f("work_log", "text", "Work Log"),
    _f(
        "account_name",
        "relate",
        "Account Name:",
        len=100,
        required=True,
        source="non-db",
        id_name="account_id",
        related_module="Accounts",
    ),
    _f("account_name1", "text", "account_name1", len=100, source="non-db"),
    _f("account_id", "relate", "Account ID", id_name="account_id", related_module="Accounts"),
    _f(
        "state",
        "enum",
        "State:",
        len=100,
        options=_CASE_STATES,
        default="Open",
        api_extra={"parentenum": "status"},
    ),
    _f(
        "contact_created_by_name",
        "relate",
        "Created by contact",
        source="non-db",
        id_name="contact_created_by_id",
        related_module="Contacts",
    ),
    _f("contact_created_by_id", "id", "LBL_CONTACT_CREATED_BY_ID"),
    _f("update_text", "text", "Updates - Text", source="non-db", default=""),
    _f("internal", "bool", "Internal Update", source="non-db"),
    *_JJWG_MAPS_FIELDS,
)

_MEETING_FIELDS: tuple[FieldDef, ...] = (
    *_basic(_name("Subject:", "50")),
    *_assignable(name_label="Assigned to:"),
    _f("accept_status", "varchar", "Accept Link", len="20", source="non-db"),
    _f("location", "varchar", "Location:", len="50"),
    _f("password", "varchar", "Meeting Password", len="50"),
    _f("join_url", "varchar", "Start/Join Meeting", len="200"),
    _f("host_url", "varchar", "Host URL", len="400"),
    _f("displayed_url", "url", "Display URL", len="400"),
    _f("creator", "varchar", "Meeting Creator", len="50"),
    _f("external_id", "varchar", "External App ID", len="50"),
    _f("duration_hours", "int", "Duration Hours:", len="3", required=True, group="duration"),
    _f("duration_minutes", "int", "Duration Minutes:", len="2", group="duration"),
    _f("date_start", "datetimecombo", "Start Date:", required=True),
    _f("date_end", "datetimecombo", "End Date"),
    _f(
        "parent_type",
        "parent_type",
        "Parent Type",
        len=100,
        options=_PARENT_TYPES,
        group="parent_name",
    ),
    _f("status", "enum", "Status:", len=100, options=_MEETING_STATUSES, default="Planned"),
    _f("type", "enum", "Meeting Type", len=255, options=_MEETING_TYPES, default="Sugar"),
    _f("direction", "enum", "Direction:", len=100, options=_DIRECTIONS, source="non-db"),
    _f("parent_id", "id", "Parent ID", group="parent_name"),
    _f("reminder_checked", "bool", "Reminders:", source="non-db", constant=False),
    _f("reminder_time", "enum", "Reminder Time", options=_REMINDER_TIMES, default="-1"),
    _f("email_reminder_checked", "bool", "Email Reminder", source="non-db", constant=False),
    _f("email_reminder_time", "enum", "Email Reminder Time", options=_REMINDER_TIMES, default="-1"),
    _f("email_reminder_sent", "bool", "Email reminder sent", default="0"),
    _f("outlook_id", "varchar", "Outlook ID", len="255"),
    _f("sequence", "int", "Meeting update sequence", len="11", default="0"),
    _f(
        "contact_name",
        "relate",
        "Contact:",
        len=36,
        source="non-db",
        id_name="contact_id",
        related_module="Contacts",
    ),
    _f(
        "parent_name",
        "parent",
        "Related to",
        source="non-db",
        group="parent_name",
        id_name="parent_id",
        api_extra={"type_name": "parent_type"},
    ),
    _f("contact_id", "id", "contact_id", source="non-db"),
    _f("repeat_type", "enum", "Repeat Type", len=36, options=_REPEAT_TYPES),
    _f("repeat_interval", "int", "Repeat Interval", len=3, default="1"),
    _f("repeat_dow", "varchar", "Repeat Dow", len=7),
    _f("repeat_until", "date", "Repeat Until"),
    _f("repeat_count", "int", "Repeat Count", len=7),
    _f("repeat_parent_id", "id", "Repeat Parent ID", len=36),
    _f("recurring_source", "varchar", "Recurring Source", len=36),
    _f("duration", "enum", "Duration:", options=_DURATIONS, source="non-db"),
    _f("gsync_id", "varchar", "Google Event ID", len=1024),
    _f("gsync_lastsync", "int", "Last Google Sync Timestamp"),
    *_JJWG_MAPS_FIELDS,
)

# Notes does not use the basic template (createVardef with assignable and security_groups
# only): it declares id, name, dates and description itself, in its own order.
_NOTE_FIELDS: tuple[FieldDef, ...] = (
    *_assignable(),
    _f("id", "id", "ID", required=True),
    _f("date_entered", "datetime", "Date Created"),
    _f("date_modified", "datetime", "Date Modified"),
    *_audit_user("modified_user_id", "modified_by_name", "Modified by"),
    *_audit_user("created_by", "created_by_name", "Created By", grouped=False),
    _name("Subject:", "255"),
    _f("file_mime_type", "varchar", "Mime Type", len="100"),
    _f("filename", "file", "Attachment:", len="255"),
    _f(
        "parent_type",
        "parent_type",
        "Parent Type",
        len="255",
        options=_PARENT_TYPES,
        group="parent_name",
    ),
    _f("parent_id", "id", "Parent ID:"),
    _f("contact_id", "id", "Contact ID:"),
    _f("portal_flag", "bool", "Display in Portal?", required=True, echo_bool=True),
    _f("embed_flag", "bool", "Embed in email?", default="0"),
    _f("description", "text", "Note"),
    _f("deleted", "bool", "Deleted", default="0"),
    _f(
        "parent_name",
        "parent",
        "Related To:",
        source="non-db",
        id_name="parent_id",
        api_extra={"type_name": "parent_type"},
    ),
    _f("show_preview", "bool", "show_preview", source="non-db", constant=False),
    _f(
        "contact_name",
        "relate",
        "Contact:",
        source="non-db",
        id_name="contact_id",
        related_module="Contacts",
    ),
    _f("contact_phone", "phone", "Phone:", source="non-db"),
    _f("contact_email", "varchar", "Email Address:", source="non-db"),
    _f("account_id", "id", "Account ID:", source="non-db"),
    _f("opportunity_id", "id", "Opportunity ID:", source="non-db"),
    _f("campaign_id", "id", "campaign_id", source="non-db"),
    _f("acase_id", "id", "Case ID:", source="non-db"),
    _f("lead_id", "id", "Lead ID:", source="non-db"),
)


def _with(fields: tuple[FieldDef, ...], **changes: dict[str, object]) -> tuple[FieldDef, ...]:
    """``fields`` with some replaced by a copy carrying ``changes[name]``."""
    return tuple(replace(f, **changes[f.name]) if f.name in changes else f for f in fields)  # type: ignore[arg-type]


def _email_link(relationship: str) -> LinkDef:
    return LinkDef("email_addresses", relationship, "EmailAddresses", kind="email")


CONTACTS = ModuleDef(
    name="Contacts",
    table="contacts",
    object_name="Contact",
    label="Contacts",
    fields=_with(
        _CONTACT_FIELDS,
        # Filled from the accounts link; no related account → not in the answer at all.
        account_name={"omit_empty": True},
        account_id={"omit_empty": True},
    ),
    links=(
        _email_link("contacts_email_addresses"),
        _m2m(
            "accounts",
            "accounts_contacts",
            "Accounts",
            "accounts_contacts",
            "contact_id",
            "account_id",
            cleared_on_delete=True,
        ),
    ),
)

LEADS = ModuleDef(
    name="Leads",
    table="leads",
    object_name="Lead",
    label="Leads",
    fields=_LEAD_FIELDS,
    links=(
        _email_link("leads_email_addresses"),
        LinkDef("accounts", "account_leads", "Accounts", kind="fk_self", self_col="account_id"),
    ),
)

OPPORTUNITIES = ModuleDef(
    name="Opportunities",
    table="opportunities",
    object_name="Opportunity",
    label="Opportunities",
    fields=_OPPORTUNITY_FIELDS,
    links=(
        _m2m(
            "accounts",
            "accounts_opportunities",
            "Accounts",
            "accounts_opportunities",
            "opportunity_id",
            "account_id",
            bean_name="Account",
            cleared_on_delete=True,
        ),
    ),
)

CASES = ModuleDef(
    name="Cases",
    table="cases",
    object_name="aCase",
    label="Cases",
    fields=_CASE_FIELDS,
    links=(
        LinkDef(
            "accounts",
            "account_cases",
            "Accounts",
            kind="fk_self",
            self_col="account_id",
            cleared_on_delete=True,
        ),
    ),
)

MEETINGS = ModuleDef(
    name="Meetings",
    table="meetings",
    object_name="Meeting",
    label="Meetings",
    fields=_MEETING_FIELDS,
    links=(LinkDef("accounts", "account_meetings", "Accounts", kind="parent_self"),),
)

NOTES = ModuleDef(
    name="Notes",
    table="notes",
    object_name="Note",
    label="Notes",
    fields=_NOTE_FIELDS,
    links=(LinkDef("accounts", "account_notes", "Accounts", kind="parent_self"),),
)

# What Opportunity::save puts in an empty probability: the sales stage's (sales_probability_dom).
SALES_STAGE_PROBABILITY: dict[str, int] = {
    "Prospecting": 10,
    "Qualification": 20,
    "Needs Analysis": 25,
    "Value Proposition": 30,
    "Id. Decision Makers": 40,
    "Perception Analysis": 50,
    "Proposal/Price Quote": 65,
    "Negotiation/Review": 80,
    "Closed Won": 100,
    "Closed Lost": 0,
}

# The campaign log (recording 20_15): one row per target and campaign event. No name and no
# date_entered (Sugar's vardefs have neither); written by Sugar's campaign code, read here.
CAMPAIGN_LOG = ModuleDef(
    name="CampaignLog",
    table="campaign_log",
    object_name="CampaignLog",
    label="Campaign Log",
    fields=(
        _f("id", "id", "ID", required=True),
        _f("campaign_id", "id", "campaign_id"),
        _f("target_tracker_key", "varchar", "Target Tracker Key", len="36"),
        _f("target_id", "varchar", "Target ID", len="36"),
        _f("target_type", "varchar", "Target Type", len=100),
        _f("activity_type", "enum", "Activity Type", len=100),
        _f("activity_date", "datetime", "Activity Date"),
        _f("related_id", "varchar", "Related Id", len="36"),
        _f("related_type", "varchar", "Related Type", len=100),
        _f("archived", "bool", "Archived", default="0"),
        _f("hits", "int", "Hits", default="0"),
        _f("list_id", "id", "Prospect List ID", len="36"),
        _f("deleted", "bool", "Deleted"),
        _f("date_modified", "datetime", "Date Modified"),
        _f("more_information", "varchar", "More Information", len="100"),
        _f("marketing_id", "id", "Marketing Id"),
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
        CONTACTS,
        LEADS,
        OPPORTUNITIES,
        CASES,
        MEETINGS,
        NOTES,
        CAMPAIGN_LOG,
    )
}

# Modules whose rights ACL roles govern (category of the module-type acl_actions rows).
ACL_MODULES = (
    "Accounts",
    "ProspectLists",
    "Tasks",
    "Calls",
    "Campaigns",
    "SecurityGroups",
    "Contacts",
    "Leads",
    "Opportunities",
    "Cases",
    "Meetings",
    "Notes",
)
# Modules whose `name` is first + last name (Person): get_entry says "Ms. Ada Lovelace", a list
# "Ada Lovelace"; full_name keeps the salutation in both (seen live, SuiteCRM 7.15.0).
PERSON_MODULES = frozenset({"Contacts", "Leads"})
# Modules whose save sets date_end = date_start + duration_hours/minutes (Meeting::save).
END_FROM_DURATION = frozenset({"Meetings"})
# Modules whose save numbers records (cases.case_number, an auto-increment column).
AUTO_NUMBER: dict[str, str] = {"Cases": "case_number"}
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
    "accounts_contacts": ("contact_id", "account_id"),
    "accounts_opportunities": ("opportunity_id", "account_id"),
}
