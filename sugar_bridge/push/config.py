"""The ``push:`` section: matching, field mapping, target lists, follow-up rules, owners.

Everything the push does is described here as data (style guide: "policies are data, not ``if``
chains"); every key has a default so an empty section is valid and pushes the example config's
Accounts custom fields. ``fields`` *extends* the ten default mappings: a column given replaces its
default, a new column is added, and ``column: null`` drops a default (so adding one field never
means restating ten).

```yaml
push:
  match:
    order: [external_id, email, name]     # methods tried in this order
    unmatched: create                     # create | skip | report
  fields:                                 # customer_habits column -> Accounts field
    top_category: top_category_c          # added to the ten defaults
    clv_12m: {field: clv_c, type: currency, precision: 2}   # replaces the default clv_12m
    p_alive: null                         # drops a default
  sessions: 4                             # at most; the push adapts below it
  batch_size: 50
  persons:                                # B2C customers: pushed to Contacts
    customer_types: [b2c]                 # the orders' customer_type values that are persons
  target_lists: {name_pattern: "Segment: {segment}"}
  followups:                              # the commercial policy (followups.py)
    - {name: relancer, is: [declining]}   # while declining, no open follow-up of this rule
    - {name: became-lost, column: lifecycle_stage, enters: [lost], module: Calls}
  followup_limits: {per_owner_per_day: 20, order_by: [clv_12m, total_amount], rules_first: []}
  owners:                                 # owners.py: who an account and its follow-ups go to
    rules: [{country: [Belgium], user: c.moreau}, {round_robin: {role: Sales Rep}}]
    default: c.moreau
```
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.config import SEGMENTS

if TYPE_CHECKING:
    import jinja2.sandbox

MatchMethod = Literal["external_id", "email", "name"]
DEFAULT_ORDER: tuple[MatchMethod, ...] = ("external_id", "email", "name")
UnmatchedPolicy = Literal["create", "skip", "report"]
FieldType = Literal[
    "varchar", "text", "enum", "int", "decimal", "currency", "float", "date", "datetime", "bool"
]

#: The pseudo-column ``rfm_score``: the three quintile scores as one number (``r f m`` → ``545``).
DERIVED_COLUMNS = frozenset({"rfm_score"})


class FieldMap(BaseModel):
    """Where one ``customer_habits`` column goes in Sugar, and how Sugar stores it."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, description="Accounts field name (custom fields end in _c).")
    type: FieldType | None = Field(
        default=None,
        description="How Sugar stores the value; default: the type get_module_fields reports.",
    )
    precision: int = Field(default=2, ge=0, le=8, description="Decimals of decimal fields.")
    values: dict[str, str] = Field(
        default_factory=dict,
        description="Value map (e.g. segment name -> dropdown key); unmapped values pass as is.",
    )
    min_change: float = Field(
        default=0.0,
        ge=0,
        description="Numbers: a change smaller than this (in the field's unit) is not sent.",
    )
    min_change_pct: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Numbers: a change smaller than this % of the last pushed value is not sent.",
    )


def segment_key(segment: str) -> str:
    """The dropdown key of a segment name: ``"Can't lose them"`` → ``cant_lose_them``."""
    return re.sub(r"[^0-9a-z]+", "_", segment.lower().replace("'", "")).strip("_")


def _default_fields() -> dict[str, FieldMap]:
    # The Accounts custom fields of the example config (config/sugar-bridge.yaml, created by
    # provisioning): enums take dropdown keys, decimals keep the declared precision.
    return {
        "rfm_segment": FieldMap(
            field="segment_c", type="enum", values={s: segment_key(s) for s in SEGMENTS}
        ),
        "lifecycle_stage": FieldMap(field="lifecycle_stage_c", type="enum"),
        "rfm_score": FieldMap(field="rfm_score_c", type="int"),
        # Model outputs move a little for every customer every night (the as-of date moves);
        # resending them all would cost a full rewrite of the accounts each night, at the
        # ~15 updates/s a real Sugar takes. Only changes that matter to a sales rep are sent.
        "clv_12m": FieldMap(field="clv_12m_c", type="currency", precision=2, min_change_pct=10),
        "p_alive": FieldMap(field="p_alive_c", type="decimal", precision=4, min_change=0.05),
        "n_orders": FieldMap(field="n_orders_c", type="int"),
        "avg_order_amount": FieldMap(field="avg_order_amount_c", type="currency", precision=2),
        "last_order_at": FieldMap(field="last_order_at_c", type="date"),
        "preferred_payment_method": FieldMap(field="preferred_payment_c", type="enum"),
        "avg_payment_delay_days": FieldMap(
            field="avg_payment_delay_c", type="decimal", precision=1
        ),
    }


class MatchConfig(BaseModel):
    """How warehouse customers are matched to Sugar accounts, and what happens to the others."""

    model_config = ConfigDict(extra="forbid")

    order: list[MatchMethod] = Field(default_factory=lambda: list(DEFAULT_ORDER), min_length=1)
    external_id_field: str = Field(default="external_id_c", min_length=1)
    external_id_format: str = Field(
        default="{source_customer_id}",
        description="External id of a customer; placeholders {source} and {source_customer_id}.",
    )
    unmatched: UnmatchedPolicy = "create"
    account_type: str = Field(default="Customer", description="account_type of created accounts.")
    assigned_user_id: str | None = Field(
        default=None, description="Owner of created accounts (default: the API user)."
    )
    name_suffixes: list[str] = Field(
        default_factory=lambda: [
            "gmbh",
            "ag",
            "sa",
            "sas",
            "sarl",
            "srl",
            "spa",
            "bv",
            "nv",
            "ltd",
            "limited",
            "llc",
            "inc",
            "corp",
            "co",
            "plc",
            "kg",
        ],
        description="Legal-form words ignored when comparing names.",
    )

    @field_validator("order")
    @classmethod
    def _unique_methods(cls, value: list[MatchMethod]) -> list[MatchMethod]:
        if len(set(value)) != len(value):
            raise ValueError("each match method may appear once")
        return value

    @field_validator("external_id_format")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            value.format(source="s", source_customer_id="c")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder {exc}; use {{source}} and {{source_customer_id}}"
            ) from None
        return value


class PersonsConfig(BaseModel):
    """Which customers are persons (B2C), pushed to Sugar's Contacts rather than Accounts."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="false: every customer is pushed to Accounts, whatever its type."
    )
    customer_types: list[str] = Field(
        default_factory=lambda: ["b2c"],
        description="customer_type values (of the orders, any case) that make a person.",
    )
    sources: list[str] = Field(
        default_factory=list,
        description="Order sources whose every customer is a person (e.g. a web shop's).",
    )
    untyped: Literal["account", "contact"] = Field(
        default="account",
        description="Customers without a customer_type (and not from `sources`) go to ...",
    )
    lead_source: str | None = Field(
        default=None, description="lead_source of the contacts the push creates (e.g. Web Site)."
    )

    @field_validator("customer_types")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]

    def is_person(self, customer_type: str | None, source: str) -> bool:
        """Whether a customer of this type (None: not given) and source is a person."""
        if not self.enabled:
            return False
        if customer_type:
            return customer_type.lower() in self.customer_types
        if source in self.sources:
            return True
        return self.untyped == "contact"


#: The ProspectLists links the push can fill: companies (accounts) and persons (contacts). A list
#: holds leads too (link ``leads``), which no segment gives: ``reconcile_lists`` takes them from a
#: caller that has some (``links=``), the push leaves them alone.
PushLink = Literal["accounts", "contacts"]
DEFAULT_LINKS: tuple[PushLink, ...] = ("accounts", "contacts")


class TargetListsConfig(BaseModel):
    """One Sugar target list (ProspectLists) per segment, membership reconciled both ways."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    column: str = Field(default="rfm_segment", description="customer_habits column of the segment.")
    name_pattern: str = Field(default="Segment: {segment}", description="List name; {segment}.")
    list_type: str = "default"
    segments: list[str] = Field(
        default_factory=lambda: list(SEGMENTS),
        description="Segments whose lists are kept even when empty (others appear when used).",
    )
    links: list[PushLink] = Field(
        default_factory=lambda: list(DEFAULT_LINKS),
        min_length=1,
        description="ProspectLists links the push manages (accounts, contacts): members of these "
        "follow the segment; the others (e.g. leads marketing added) are left alone.",
    )
    page_size: int = Field(
        default=1000, ge=10, le=1000, description="Members per get_relationships page."
    )
    link_chunk: int = Field(default=200, ge=1, le=2000, description="Ids per set_relationship.")

    @field_validator("name_pattern")
    @classmethod
    def _has_segment(cls, value: str) -> str:
        if "{segment}" not in value:
            raise ValueError("the name pattern must contain {segment}")
        try:
            value.format(segment="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"invalid pattern: {exc}") from None
        return value


#: Filters the follow-up templates may use, formatting in SUGAR_BRIDGE_LOCALE (Babel):
#: ``{{ clv_12m | money }}``, ``{{ n_orders | number }}``, ``{{ p_alive | percent }}``,
#: ``{{ last_order_at | date }}``. Registered here so a config using them compiles at load.
TEMPLATE_FILTERS = ("money", "number", "percent", "date")


@functools.cache
def _template_env() -> jinja2.sandbox.SandboxedEnvironment:
    """The environment follow-up templates are checked with (jinja2 is imported by the configs
    that have follow-up rules, not by every command that reads the config)."""
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.filters.update(dict.fromkeys(TEMPLATE_FILTERS, str))
    return env


class FollowupRule(BaseModel):
    """One rule of the commercial policy: a Task (or Call) for an account in a watched state.

    Two kinds (exactly one per rule):

    - **state** (``is`` / ``when`` / ``key_account``): the account *is* in the state — ``column``
      has one of ``is``, every column of ``when`` has one of its values, and it is (or is not) a
      key account — and has no open follow-up of this rule; one closed in Sugar lets the rule fire
      again after ``cooldown_days``.
    - **transition** (``enters``): the pushed value *moved into* one of ``enters`` (compared with
      the last value that stuck in Sugar): once per transition.

    Neither fires for a customer who ordered within ``recent_buyer_days``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    column: str = Field(default="lifecycle_stage", description="A mapped customer_habits column.")
    enters: list[str] | None = Field(
        default=None, min_length=1, description="Fire when the column moves into one of these."
    )
    is_: list[str] | None = Field(
        default=None,
        alias="is",
        min_length=1,
        description="Fire while the column has one of these values (and no follow-up is open).",
    )
    when: dict[str, list[str]] = Field(
        default_factory=dict,
        description="More conditions, all true: mapped column -> values (one of them).",
    )
    key_account: bool | None = Field(
        default=None,
        description="true: only key accounts (sugar.accounts); false: only the others.",
    )
    cooldown_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="State rules: days after a follow-up is closed in Sugar before it may fire "
        "again for the account.",
    )
    recent_buyer_days: int | None = Field(
        default=None,
        ge=0,
        description="No follow-up for a customer who ordered within this many days (0 = no "
        "such rule; default: analytics.lifecycle.recent_buyer_days).",
    )
    owner: str | None = Field(
        default=None,
        description="User name the follow-ups go to (default: the account's owner).",
    )
    module: Literal["Tasks", "Calls"] = "Tasks"
    subject: str | None = Field(
        default=None, min_length=1, description="Jinja2 template; default: in the locale."
    )
    description: str | None = Field(
        default=None, description="Jinja2 template; default: in the locale."
    )
    per_owner_per_day: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="At most this many of this rule's follow-ups per owner a night (within "
        "followup_limits.per_owner_per_day; default: no limit of its own).",
    )
    due_in_days: int = Field(default=7, ge=0, le=365)
    due_time: str = Field(default="09:00:00", pattern=r"^\d{2}:\d{2}:\d{2}$")
    priority: str = "High"
    status: str | None = Field(default=None, description="Default: Not Started / Planned.")
    duration_minutes: int = Field(default=15, ge=1, le=600, description="Calls only.")
    on_first_push: bool = Field(
        default=False,
        description="Transition rules: also act when the account had no pushed value before.",
    )

    @field_validator("subject", "description")
    @classmethod
    def _template_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import jinja2

        try:
            _template_env().from_string(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"template syntax error line {exc.lineno}: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FollowupRule:
        state = self.is_ is not None or bool(self.when) or self.key_account is not None
        if self.enters is not None and state:
            raise ValueError(
                "a rule watches a transition (enters) or a state (is / when / key_account), "
                "not both"
            )
        if self.enters is None and not state:
            raise ValueError("a rule needs enters, is, when or key_account")
        return self

    @property
    def on_state(self) -> bool:
        """Whether the rule fires on state (else on a transition, ``enters``)."""
        return self.enters is None

    def conditions(self) -> dict[str, list[str]]:
        """State rules: column -> accepted values (``is`` on ``column``, then ``when``)."""
        out = {self.column: list(self.is_)} if self.is_ is not None else {}
        for column, values in self.when.items():
            out[column] = [*out.get(column, []), *values] if column in out else list(values)
        return out


class FollowupLimits(BaseModel):
    """How many follow-ups a night may create, and which first."""

    model_config = ConfigDict(extra="forbid")

    per_owner_per_day: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="New follow-ups per owner and day at most; the rest wait for later nights.",
    )
    order_by: list[str] = Field(
        default_factory=lambda: ["clv_12m", "total_amount"],
        min_length=1,
        description="customer_habits columns, highest first: who gets a follow-up first.",
    )
    rules_first: list[str] = Field(
        default_factory=list,
        description="Follow-up rules (names) whose follow-ups take an owner's slots first, in "
        "this order; then the other rules'. Within a rule, order_by decides.",
    )


class RoundRobin(BaseModel):
    """Share accounts among the active users of a role or of a security group."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    security_group: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RoundRobin:
        if (self.role is None) == (self.security_group is None):
            raise ValueError("round_robin takes either role or security_group")
        return self


class OwnerRule(BaseModel):
    """Accounts matching every condition given (none: all) go to ``user`` or ``round_robin``."""

    model_config = ConfigDict(extra="forbid")

    country: list[str] = Field(default_factory=list, description="Billing country (any case).")
    city: list[str] = Field(default_factory=list, description="Billing city (any case).")
    postcode_prefix: list[str] = Field(
        default_factory=list, description="Billing postal code starts with one of these."
    )
    user: str | None = Field(default=None, description="User name.")
    round_robin: RoundRobin | None = None

    @model_validator(mode="after")
    def _one_target(self) -> OwnerRule:
        if (self.user is None) == (self.round_robin is None):
            raise ValueError("an owner rule names a user or a round_robin (one of them)")
        return self


class OwnersConfig(BaseModel):
    """Who owns the accounts the push writes, and so their follow-ups (first rule that applies).

    1. a key account's manager (``sugar.accounts[].assigned_user``, ``key_accounts: true``);
    2. ``rules`` in order: territory (country / city / postcode prefix) to a user, or a
       round-robin over a role's or a security group's active users;
    3. ``default`` (a user name; none: the API user).

    An account whose owner a rep set in Sugar keeps it: the push assigns one only to the accounts
    it creates and to those without an owner.
    """

    model_config = ConfigDict(extra="forbid")

    key_accounts: bool = Field(default=True, description="Key accounts go to their manager.")
    rules: list[OwnerRule] = Field(default_factory=list)
    default: str | None = Field(default=None, description="User name; none: the API user.")
    key_account_managers: dict[str, str] = Field(
        default_factory=dict,
        description="external id -> user name; filled from sugar.accounts when the file loads.",
    )

    def user_names(self) -> list[tuple[str, str]]:
        """(path, user name) of every user named here, for validation."""
        out = [(f"rules[{i}].user", r.user) for i, r in enumerate(self.rules) if r.user]
        if self.default:
            out.append(("default", self.default))
        return out


class LeadScoreConfig(BaseModel):
    """``push.lead_score``: the prospect score (analytics/prospects.py) pushed to the Leads."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(
        default="prospect_score_c",
        description="Integer Leads field taking the score in percent (null: not pushed).",
    )
    min_change: int = Field(
        default=1, ge=1, le=100, description="Points a score must move to be written again."
    )
    batch_size: int = Field(default=50, ge=1, le=500, description="Leads per set_entries.")


class PushConfig(BaseModel):
    """The ``push:`` section: matching, field mapping, target lists, follow-up rules."""

    model_config = ConfigDict(extra="forbid")

    match: MatchConfig = Field(default_factory=MatchConfig)
    persons: PersonsConfig = Field(default_factory=PersonsConfig)
    fields: dict[str, FieldMap] = Field(default_factory=_default_fields)
    updated_field: str | None = Field(
        default="segment_updated_c",
        description="Datetime field set to the run's time whenever an account's values change.",
    )
    # A maximum: the push starts with one session and adds more while Sugar's throughput rises
    # (connectors.sugar.adaptive). Where every save is indexed by AOD under one lock (AOD on and
    # no bulk method in the extension) it stays at one: measured on 7.15, 2 sessions then pushed
    # 1.2x (up to 2.7x) and 4 sessions 3x as long as 1 (benchmarks/README.md).
    sessions: Annotated[int, Field(ge=1, le=16)] | Literal["auto"] = Field(
        default=4,
        description="Most concurrent Sugar sessions the push may use (it adapts below this; "
        "auto = 4).",
    )
    adaptive: bool = Field(
        default=True,
        description="Adapt the sessions to Sugar's throughput (false: always `sessions`).",
    )
    write_method: Literal["auto", "set_entries"] = Field(
        default="auto",
        description="auto: the extension's bridge_save_records where Sugar has it (1.3.0+), "
        "else set_entries; set_entries: always the stock method.",
    )
    batch_size: int = Field(
        default=50, ge=1, le=500, description="Records per set_entries / bridge_save_records."
    )
    verify: bool = Field(default=True, description="Read written accounts back and compare.")
    dry_run_sample: int = Field(default=20, ge=0, le=1000)
    full_check_days: int = Field(
        default=7,
        ge=0,
        le=366,
        description="A night reads from Sugar only the records modified since the last read; "
        "every this many days it reads them all (0: every night), the safety net for edits "
        "that do not move date_modified.",
    )
    read_overlap_minutes: int = Field(
        default=5,
        ge=0,
        le=24 * 60,
        description="How far before the last read's newest date_modified a night reads again "
        "(saves committed late).",
    )
    target_lists: TargetListsConfig = Field(default_factory=TargetListsConfig)
    followups: list[FollowupRule] = Field(default_factory=list)
    lead_score: LeadScoreConfig = Field(default_factory=LeadScoreConfig)
    followup_limits: FollowupLimits = Field(default_factory=FollowupLimits)
    owners: OwnersConfig = Field(default_factory=OwnersConfig)
    recent_buyer_days: int = Field(
        default=30,
        ge=0,
        description="Default of the rules' recent_buyer_days (set from "
        "analytics.lifecycle.recent_buyer_days when the file loads).",
    )
    currency: str | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="ISO 4217 code Sugar's money fields are in (their labels say it, e.g. "
        "'CLV 12 months (EUR)'): the amounts are pushed only when the analytics run's "
        "reporting currency is this one. Default: that of the last push that sent them.",
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        from etl.currencies import iso_currency  # here: importing the config stays cheap

        return iso_currency(value)

    # The schema editors see is that of the YAML (short forms and `null` included).
    @field_validator(
        "fields", mode="before", json_schema_input_type=dict[str, FieldMap | str | None]
    )
    @classmethod
    def _extend_defaults(cls, value: object) -> object:
        # The mappings given extend the defaults, so adding one field never means restating ten:
        # a column given replaces its default, `column: null` drops one. `column: field_c` is the
        # short form of `column: {field: field_c}`.
        if not isinstance(value, dict):
            return value
        merged: dict[str, object] = dict(_default_fields())
        for column, spec in value.items():
            if spec is None:
                if column not in merged:
                    raise ValueError(
                        f"{column}: null drops a default mapping, and {column!r} is not one "
                        f"(defaults: {', '.join(_default_fields())})"
                    )
                del merged[column]
            else:
                merged[column] = {"field": spec} if isinstance(spec, str) else spec
        return merged

    @model_validator(mode="after")
    def _consistent(self) -> PushConfig:
        targets = [m.field for m in self.fields.values()]
        duplicates = sorted({f for f in targets if targets.count(f) > 1})
        if duplicates:
            raise ValueError(
                f"fields: several columns write {', '.join(duplicates)} (the mappings given "
                "extend the defaults: drop a default with `column: null`)"
            )
        reserved = {self.match.external_id_field, "id"} | (
            {self.updated_field} if self.updated_field else set()
        )
        clash = sorted(reserved.intersection(targets))
        if clash:
            raise ValueError(f"fields: {', '.join(clash)} is written by the push itself")
        if self.target_lists.enabled and self.target_lists.column not in self.fields:
            raise ValueError(
                f"target_lists.column {self.target_lists.column!r} is not a mapped column"
            )
        names = [rule.name for rule in self.followups]
        if len(set(names)) != len(names):
            raise ValueError("followups: rule names must be unique")
        unknown = [n for n in self.followup_limits.rules_first if n not in names]
        if unknown:
            raise ValueError(
                f"followup_limits.rules_first: no follow-up rule named {', '.join(unknown)} "
                f"(rules: {', '.join(names) or 'none'})"
            )
        for rule in self.followups:
            columns = [rule.column] if not rule.on_state or rule.is_ is not None else []
            for column in [*columns, *rule.when]:
                if column not in self.fields:
                    raise ValueError(
                        f"followups[{rule.name}]: column {column!r} is not a mapped column"
                    )
        return self

    def field_for(self, column: str) -> str:
        """The Sugar field a mapped column is written to."""
        return self.fields[column].field
