"""The warehouse's tables (SQLAlchemy 2 Core): a star schema of orders plus the ETL's own state.

Created and changed only through the Alembic migrations in ``etl/migrations`` (``sugar-bridge db
upgrade``); these definitions are what the migrations build and what the code queries. README.md
documents every table (grain, keys, columns) for analysts.

Money is exact: ``Numeric(14, 2)`` for figures, ``Numeric(18, 6)`` for the order system's prices
and amounts (up to 6 decimals, as order systems keep unit prices). Dates of the order system are
stored as ``Date``/``DateTime`` (naive, in the settings' time zone). Natural keys are unique
constraints, so merges can rely on them on every engine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ColumnElement, Select

# Deterministic constraint names, so migrations behave the same on SQLite, MariaDB and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Money = Numeric(14, 2)
# Prices and order amounts as order systems keep them: up to 6 decimals, stored exactly.
PreciseMoney = Numeric(18, 6)
# Exchange rates: units of a currency per one unit of the reporting currency (ECB convention).
FxRate = Numeric(18, 8)
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PKs only

# --- dimensions -------------------------------------------------------------------------------

dim_customer = Table(
    "dim_customer",
    metadata,
    Column("customer_key", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("source_customer_id", String(128), nullable=False),
    Column("name", String(255)),
    Column("email", String(255)),
    Column("city", String(128)),
    Column("country", String(64)),
    Column("sugar_account_id", String(36)),
    Column("match_method", String(16)),  # external_id | email | name | created
    Column("matched_at", DateTime),
    Column("first_seen_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # b2b | b2c | NULL, the orders' customer_type (newest given): a person is pushed to Contacts.
    Column("customer_type", String(8)),
    # The Sugar Contact a person is matched to (as sugar_account_id is a company's Account).
    Column("sugar_contact_id", String(36)),
    Column("owner_name", String(64)),  # Sugar user owning the account, as the push last saw it
    UniqueConstraint("source", "source_customer_id"),
    Index(None, "sugar_account_id"),
    Index(None, "sugar_contact_id"),
)

dim_product = Table(
    "dim_product",
    metadata,
    Column("product_key", Id, primary_key=True, autoincrement=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(255)),
    Column("category", String(64)),  # the article type used by the statistics
    Column("brand", String(64)),
    Column("updated_at", DateTime, nullable=False),
)

dim_date = Table(
    "dim_date",
    metadata,
    Column("date_key", Integer, primary_key=True, autoincrement=False),  # yyyymmdd
    Column("date", Date, nullable=False, unique=True),
    Column("year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("day", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),  # 0 = Monday
    Column("iso_week", Integer, nullable=False),
    Column("is_weekend", Boolean, nullable=False),
)

# --- facts ------------------------------------------------------------------------------------

fact_order = Table(
    "fact_order",
    metadata,
    Column("order_key", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("source_order_id", String(128), nullable=False),
    Column("customer_key", Id, ForeignKey("dim_customer.customer_key"), nullable=False),
    Column("order_date_key", Integer, ForeignKey("dim_date.date_key"), nullable=False),
    Column("ordered_at", DateTime, nullable=False),
    Column("channel", String(16)),
    Column("payment_method", String(16)),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # completed | cancelled | returned
    Column("n_lines", Integer, nullable=False),
    Column("n_items", Numeric(14, 3), nullable=False),
    # sum of line amounts (after discounts); the default is migration 0005's (SQLite adds a NOT
    # NULL column only with one), the loader always gives the value
    Column("total_amount", PreciseMoney, nullable=False, server_default=text("0")),
    # The order in the reporting currency (migration 0013, written by etl.fx.convert_orders):
    # total_amount / fx_rate, the rate of fx_rate_date (the latest on or before the order's day).
    # reporting_amount is NULL until converted and while no usable rate exists: such an order is
    # flagged and left out of every money figure, never summed as if it were in that currency.
    Column("reporting_currency", String(3)),
    Column("fx_rate", FxRate),
    Column("fx_rate_date", Date),
    Column("reporting_amount", PreciseMoney),
    Column("invoiced_at", Date),
    Column("due_at", Date),
    Column("paid_at", Date),
    Column("payment_delay_days", Integer),  # paid_at - invoiced_at
    Column("lateness_days", Integer),  # paid_at - due_at (negative = paid early)
    Column("etl_run_id", Id, nullable=False),
    Column("content_hash", String(64), nullable=False),  # of the validated order: skip unchanged
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("source", "source_order_id"),
    # A customer's orders in time order, with what the per-customer aggregates read (the day,
    # the status, the converted amount): `analytics clv`'s summary and the statistics scan this
    # index alone, never the table (migration 0016).
    Index(
        "ix_fact_order_by_customer",
        "customer_key",
        "ordered_at",
        "order_date_key",
        "status",
        "reporting_amount",
    ),
    Index(None, "ordered_at"),
)

fact_order_line = Table(
    "fact_order_line",
    metadata,
    Column("order_key", Id, ForeignKey("fact_order.order_key"), primary_key=True),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("product_key", Id, ForeignKey("dim_product.product_key"), nullable=False),
    Column("quantity", Numeric(14, 3), nullable=False),
    Column("unit_price", PreciseMoney, nullable=False),
    Column("discount", PreciseMoney, nullable=False),
    Column("amount", PreciseMoney, nullable=False),  # line_amount, or quantity * price - discount
    # The order's customer: the shard key on Spider, where an order and its lines live on one
    # data node and so commit together (etl/spider.py).
    Column("customer_key", Id, nullable=False),
    # No index on product_key (migration 0017): nothing looks lines up by product, and SQLite's
    # planner drove the line-to-product join through it, 3.5x slower than scanning the lines.
    # InnoDB keeps the one its foreign key needs, under the key's name.
    # On SQLite the rows live in the key's b-tree, as in InnoDB (migration 0015).
    sqlite_with_rowid=False,
)

# --- ETL state --------------------------------------------------------------------------------

etl_run = Table(
    "etl_run",
    metadata,
    Column("run_id", Id, primary_key=True, autoincrement=True),
    Column("job", String(32), nullable=False),  # etl | analytics | push | sync | provision
    Column("source", String(64)),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    # running | ok | partial | failed | cancelled | interrupted (etl.runs.RunStatus)
    Column("status", String(16), nullable=False),
    Column("watermark_from", String(64)),
    Column("watermark_to", String(64)),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("details", JSON),  # step timings and counts
    # The run's lease (migration 0006): who runs it, and until when it is known to be alive; a
    # running row whose lease expired or whose process is gone is swept as interrupted.
    Column("host", String(255)),
    Column("pid", Integer),
    Column("lease_until", DateTime),
    Index(None, "job", "started_at"),
)

etl_reject = Table(
    "etl_reject",
    metadata,
    Column("reject_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("etl_run.run_id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("source_key", String(255)),  # file:line, or the order id
    Column("rule", String(32), nullable=False),  # short rule name (quantity_not_positive, ...)
    Column("reason", Text, nullable=False),
    Column("raw", Text),  # the raw row as JSON
    Column("created_at", DateTime, nullable=False),
    Index(None, "run_id"),
)

etl_watermark = Table(
    "etl_watermark",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor_value", String(64)),
    Column("run_id", Id, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

etl_loaded_file = Table(
    "etl_loaded_file",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("file_name", String(512), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),  # data rows committed so far (resume point)
    Column("status", String(16), nullable=False),  # loading | loaded | rejected
    Column("run_id", Id, nullable=False),
    Column("loaded_at", DateTime, nullable=False),
)

fx_rate = Table(
    "fx_rate",
    metadata,
    # Exchange rates loaded from the configured source (etl.fx.load_rates): ``rate`` units of
    # ``currency`` per one unit of ``base`` (the reporting currency) on ``rate_date``.
    Column("base", String(3), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("rate_date", Date, primary_key=True),
    Column("rate", FxRate, nullable=False),
    Column("source_key", String(255), nullable=False),  # file:line (or query:row) it came from
    Column("run_id", Id, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# --- analytics (client-habit statistics per run; analytics/) ---------------------------------

analytics_run = Table(
    "analytics_run",
    metadata,
    # Same id as the run's etl_run row (job "analytics"); what one computation was made from.
    Column("run_id", Id, ForeignKey("etl_run.run_id"), primary_key=True, autoincrement=False),
    Column("as_of", Date, nullable=False),
    # current: computed for its own day (the nightly run, or a run for today); backdated: a past
    # day recomputed. customer_habits and the push show the latest *current* run only.
    Column("kind", String(16), nullable=False, server_default=text("'current'")),
    Column("n_customers", Integer, nullable=False),
    Column("n_buyers", Integer, nullable=False),
    Column("time_unit", String(8), nullable=False),  # of the CLV model parameters
    Column("models", JSON),  # {"bgnbd": {params, log_likelihood, ...}, "gamma_gamma": ...}
    Column("portfolio", JSON),  # the portfolio figures of the report, as computed for this run
    Column("currency", String(3)),  # the reporting currency of its amounts (migration 0013)
    Column("config", JSON),  # the analytics config used
    Column("created_at", DateTime, nullable=False),
    Index(None, "as_of"),
)

customer_metrics = Table(
    "customer_metrics",
    metadata,
    # One row per customer and analytics run: the history behind the customer_habits view.
    Column("run_id", Id, ForeignKey("analytics_run.run_id"), primary_key=True),
    Column("customer_key", Id, ForeignKey("dim_customer.customer_key"), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("source", String(64), nullable=False),
    Column("customer_id", String(128), nullable=False),  # the order system's customer id
    Column("sugar_account_id", String(36)),  # as matched when the run was made
    Column("n_orders", Integer, nullable=False),
    Column("first_order_at", DateTime),
    Column("last_order_at", DateTime),
    Column("recency_days", Integer),
    Column("mean_days_between_orders", Double),
    Column("orders_per_month", Double),
    Column("total_amount", Money, nullable=False),
    Column("avg_order_amount", Money),
    Column("avg_items_per_order", Double),
    Column("top_category", String(64)),
    Column("category_share", JSON(none_as_null=True)),  # {category: share of spend}
    Column("preferred_payment_method", String(16)),
    Column("avg_payment_delay_days", Double),
    Column("late_payment_share", Double),
    Column("preferred_channel", String(16)),
    Column("repeat_purchase_days", Integer),  # BG/NBD frequency
    Column("r_score", SmallInteger),
    Column("f_score", SmallInteger),
    Column("m_score", SmallInteger),
    Column("rfm_segment", String(32)),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("p_alive", Double),
    Column("expected_orders_90d", Double),
    Column("clv_12m", Money),
    # From the operational CRM extracted from Sugar (migration 0010; NULL without that source).
    Column("cases_open", Integer),
    Column("cases_12m", Integer),
    Column("case_resolution_days", Double),  # closed cases: date_modified - date_entered
    Column("last_contact_at", DateTime),  # last call or meeting held
    Column("contacts_12m", Integer),  # calls and meetings held in the 12 months to as_of
    Column("contacts_per_month", Double),
    Column("open_opportunities", Integer),
    Column("pipeline_amount", Money),
    Column("weighted_pipeline_amount", Money),  # amount x probability %
    Column("pipeline_by_stage", JSON(none_as_null=True)),  # {sales stage: open amount}
    Column("campaign_targeted_12m", Integer),
    Column("campaign_responses_12m", Integer),
    Column("prospect_score", Double),  # customers without orders: P(first order in horizon)
    Index(None, "customer_key", "run_id"),
    Index(None, "run_id", "rfm_segment"),
)


prospect_score = Table(
    "prospect_score",
    metadata,
    # One row per scored prospect (a Sugar lead or an account without orders) and analytics run:
    # P(first order within the model's horizon), pushed to the Leads (analytics/prospects.py).
    Column("run_id", Id, ForeignKey("analytics_run.run_id"), primary_key=True),
    Column("module", String(16), primary_key=True),  # Leads | Accounts
    Column("record_id", String(36), primary_key=True),  # the Sugar record's id
    Column("customer_key", Id),  # an account tied to a customer
    Column("score", Double, nullable=False),
    Index(None, "module", "record_id"),
)


def customer_habits_select() -> Select[Any]:
    """The query of the documented ``customer_habits`` view, generated from ``customer_metrics``.

    One row per customer for the latest *current* analytics run (a backdated recomputation of a
    past day never replaces what the push and the analysts see): every column of the metrics
    table (the run and its ``as_of`` first), with ``sugar_account_id`` as matched *now* (the push
    matches customers after the analytics step of a sync) and the customer's name,
    ``customer_name``, right after it. A column added to the metrics table is in the view by
    construction; a migration that adds one must recreate the view (``tests/etl/test_views.py``
    checks the migrated view against this query).
    """
    m = customer_metrics.alias("m")
    c = dim_customer.alias("c")
    columns: list[ColumnElement[Any]] = [m.c.run_id, m.c.as_of]
    for column in m.c:
        if column.name in ("run_id", "as_of"):
            continue
        if column.name == "sugar_account_id":
            columns.append(func.coalesce(c.c.sugar_account_id, column).label("sugar_account_id"))
            columns.append(c.c.name.label("customer_name"))
        else:
            columns.append(column)
    latest_run = (
        select(func.max(analytics_run.c.run_id))
        .where(analytics_run.c.kind == "current")
        .scalar_subquery()
    )
    return (
        select(*columns)
        .select_from(m.join(c, c.c.customer_key == m.c.customer_key))
        .where(m.c.run_id == latest_run)
    )


def customer_habits_view_sql(dialect: Dialect) -> str:
    """``CREATE VIEW customer_habits AS`` the generated query, in ``dialect``'s SQL."""
    query = customer_habits_select().compile(
        dialect=dialect,
        compile_kwargs={"literal_binds": True},  # a view takes no parameters
    )
    return f"CREATE VIEW customer_habits AS {query}"


def _create_view(target: Table, connection: Connection, **kw: Any) -> None:
    connection.exec_driver_sql(customer_habits_view_sql(connection.dialect))


_drop_view = DDL("DROP VIEW IF EXISTS customer_habits")  # type: ignore[no-untyped-call]
# metadata.create_all (the tests' quick warehouses) makes the view with the table; the
# migrations make it themselves.
event.listen(customer_metrics, "after_create", _create_view)
event.listen(customer_metrics, "before_drop", _drop_view)

# --- scheduler (job locks and scheduler heartbeats; sugar_bridge/scheduler/) -----------------

job_lock = Table(
    "job_lock",
    metadata,
    # One row per held lock (sync, drift-check): a lease that its holder renews by heartbeat.
    # Taken with INSERT (primary key = the lock) or by a conditional UPDATE of an expired lease,
    # so exactly one process wins on every engine, across hosts and containers.
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),  # random token of the holding process
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("purpose", String(64), nullable=False),  # scheduler | cli | demo
    Column("acquired_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),  # UTC; past = stale, may be taken over
)

scheduler_instance = Table(
    "scheduler_instance",
    metadata,
    # One row per running (or last run) scheduler, for `sugar-bridge status`.
    Column("instance_id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("stopped_at", DateTime),
    Column("next_runs", JSON),  # {job_id: ISO datetime of its next run}
)

# --- push (segments pushed back into Sugar; sugar_bridge/push) ---------------------------------

push_run = Table(
    "push_run",
    metadata,
    # Same id as the run's etl_run row (job "push"), so the general run history covers pushes.
    Column("run_id", Id, ForeignKey("etl_run.run_id"), primary_key=True, autoincrement=False),
    Column("as_of", Date, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("full_push", Boolean, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),  # running | ok | partial | failed
    Column("customers", Integer, nullable=False, default=0),
    Column("matched", Integer, nullable=False, default=0),
    Column("ambiguous", Integer, nullable=False, default=0),
    Column("unmatched", Integer, nullable=False, default=0),
    Column("created", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("verified", Integer, nullable=False, default=0),
    Column("list_added", Integer, nullable=False, default=0),
    Column("list_removed", Integer, nullable=False, default=0),
    Column("tasks_created", Integer, nullable=False, default=0),
    Column("sugar_writes", Integer, nullable=False, default=0),  # HTTP write calls sent
    Column("error", Text),
    Column("details", JSON),  # segment transitions, timings
)

push_log = Table(
    "push_log",
    metadata,
    Column("log_id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("push_run.run_id"), nullable=False),
    Column("account_id", String(36)),
    Column("customer_key", Id),
    Column("operation", String(16), nullable=False),  # create | update | retire | list_* | task
    Column("status", String(16), nullable=False),  # ok | failed | planned (dry run)
    Column("old_values", JSON),  # {field: value} before (the last pushed snapshot)
    Column("new_values", JSON),  # {field: value} sent
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    # The Sugar module of account_id: Accounts | Contacts | ProspectLists… (NULL before 0009).
    Column("module", String(16)),
    Index(None, "run_id", "status"),
    Index(None, "account_id"),
)

push_snapshot = Table(
    "push_snapshot",
    metadata,
    # The last value verified in Sugar, per record (an Account or a Contact: module) and field:
    # the base of the next diff.
    Column("account_id", String(36), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # normalised as Sugar stores it ('' = empty)
    Column("customer_key", Id),
    Column("run_id", Id, nullable=False),
    Column("pushed_at", DateTime, nullable=False),
    Column("module", String(16), primary_key=True, server_default="Accounts"),
)

push_record = Table(
    "push_record",
    metadata,
    # What the push last read of each live Sugar record it matches against (an Account or a
    # Contact: module), kept between nights so a night reads only the records Sugar modified
    # since (push_read_state's watermark). Replaced whole by a full read.
    Column("module", String(16), primary_key=True),
    Column("record_id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("email", String(255), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("assigned_user_id", String(36), nullable=False),
    Column("city", String(255), nullable=False),
    Column("country", String(255), nullable=False),
    Column("postcode", String(64), nullable=False),
    Column("date_modified", DateTime),  # Sugar's, UTC to the second
)

push_read_state = Table(
    "push_read_state",
    metadata,
    # One row per module, written in the same transaction as the push_record rows it covers:
    # the greatest date_modified read, with the id breaking ties at that second; which Sugar
    # (a hash of its URL and API user: another Sugar means a full read) and the last full read.
    Column("module", String(16), primary_key=True),
    Column("sugar_key", String(64), nullable=False),
    Column("watermark", DateTime),
    Column("watermark_id", String(36)),
    Column("last_full_at", DateTime, nullable=False),
    Column("run_id", Id),
)

push_followup = Table(
    "push_followup",
    metadata,
    # One row per (account, rule, transition): a follow-up is never created twice. from_run_id is
    # the run that pushed the value being left (0 = none), so re-entering later is a new transition.
    Column("followup_id", Id, primary_key=True, autoincrement=True),
    Column("account_id", String(36), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("from_value", String(255), nullable=False),
    Column("to_value", String(255), nullable=False),
    Column("from_run_id", Id, nullable=False),
    Column("module", String(16), nullable=False),  # Tasks | Calls
    Column("record_id", String(36), nullable=False),  # client-generated (new_with_id)
    Column("payload", JSON, nullable=False),  # the rendered values, resent as is on a retry
    # pending | created | failed | waiting (over a night's cap) | dropped (left the state waiting)
    Column("status", String(16), nullable=False),
    Column("run_id", Id, nullable=False),
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # The module of account_id, the follow-up's parent: Accounts | Contacts.
    Column("parent_type", String(16), nullable=False, server_default="Accounts"),
    Column("owner_id", String(36)),  # the Sugar user it is assigned to
    Column("owner_name", String(64)),
    Column("as_of", Date),  # the night it was created (the per-owner daily cap counts these)
    Column("sugar_status", String(32)),  # as last read from Sugar
    Column("closed_at", DateTime),  # closed (or deleted) in Sugar: the rule may fire again
    UniqueConstraint(
        "account_id",
        "rule",
        "from_value",
        "to_value",
        "from_run_id",
        "parent_type",
        name="uq_push_followup_transition",
    ),
)

push_match_issue = Table(
    "push_match_issue",
    metadata,
    # Customers the last match could not pair with exactly one account (replaced on each match).
    Column("customer_key", Id, primary_key=True, autoincrement=False),
    Column("reason", String(16), nullable=False),  # ambiguous | no_account
    Column("method", String(16)),
    Column("candidates", JSON),  # [{id, name, email, external_id}]
    Column("detail", Text),
    Column("run_id", Id, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("module", String(16)),  # where the customer was looked for: Accounts | Contacts
)

# --- the operational CRM (Sugar's records, extracted incrementally; etl/crm.py) ---------------
#
# One table per Sugar module family, one row per Sugar record, keyed by Sugar's id. Dates are
# Sugar's database values (UTC, second precision). A record deleted in Sugar keeps its row, with
# ``deleted`` true. ``extra`` holds the configured extra and custom fields as {field: text}.
# ``extracted_run_id`` is the etl_run that last wrote the row. The contract of these tables is
# shared with the CRM statistics (columns may be added, never renamed or removed).

CrmId = String(36)


def _crm_common() -> list[Column[Any]]:
    return [
        Column("date_entered", DateTime),
        Column("date_modified", DateTime),
        Column("deleted", Boolean, nullable=False),
        Column("extra", JSON(none_as_null=True)),
        Column("extracted_run_id", Id, nullable=False),
    ]


crm_account = Table(
    "crm_account",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("name", String(255)),
    Column("account_type", String(100)),
    Column("industry", String(100)),
    Column("billing_city", String(100)),
    Column("billing_country", String(100)),
    Column("assigned_user_id", CrmId),
    # dim_customer.customer_key whose sugar_account_id is this id (the push's match), resolved
    # when the row is extracted
    Column("customer_key", Id),
    *_crm_common(),
    Index(None, "customer_key"),
)

crm_contact = Table(
    "crm_contact",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("account_id", CrmId),  # the primary account
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("email1", String(255)),
    Column("lead_source", String(100)),
    Column("assigned_user_id", CrmId),
    Column("customer_key", Id),  # a B2C customer pushed as a Contact, when known
    *_crm_common(),
    Index(None, "account_id"),
    Index(None, "customer_key"),
)

crm_lead = Table(
    "crm_lead",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("account_id", CrmId),
    Column("status", String(100)),  # New, Assigned, In Process, Converted, Recycled, Dead
    Column("lead_source", String(100)),
    Column("converted", Boolean),
    Column("contact_id", CrmId),
    Column("account_name", String(255)),
    Column("opportunity_id", CrmId),
    Column("assigned_user_id", CrmId),
    *_crm_common(),
    Index(None, "account_id"),
)

crm_opportunity = Table(
    "crm_opportunity",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("account_id", CrmId),
    Column("name", String(255)),
    Column("sales_stage", String(100)),
    Column("amount", PreciseMoney),
    Column("currency_id", CrmId),
    Column("probability", Integer),
    Column("date_closed", Date),
    Column("assigned_user_id", CrmId),
    *_crm_common(),
    Index(None, "account_id"),
)

crm_case = Table(
    "crm_case",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("account_id", CrmId),
    Column("case_number", Integer),
    Column("status", String(100)),  # Open_New, Closed_Closed, ...
    Column("state", String(100)),  # Open | Closed
    Column("priority", String(100)),
    Column("type", String(255)),
    Column("assigned_user_id", CrmId),
    *_crm_common(),
    Index(None, "account_id"),
)

crm_activity = Table(
    "crm_activity",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("module", String(16), nullable=False),  # Calls | Meetings | Tasks | Notes
    Column("parent_type", String(100)),
    Column("parent_id", CrmId),
    # parent_id when parent_type is Accounts, the contact's account when it is Contacts
    Column("account_id", CrmId),
    Column("contact_id", CrmId),
    Column("status", String(100)),
    Column("direction", String(100)),  # Calls
    Column("date_start", DateTime),  # Tasks: date_start or date_due; Notes: date_entered
    Column("duration_minutes", Integer),
    Column("name", String(255)),  # the subject (added to the contract: reports name activities)
    *_crm_common(),
    Index(None, "account_id", "date_start"),
    Index(None, "contact_id"),
)

crm_target_list = Table(
    "crm_target_list",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("name", String(255)),
    Column("list_type", String(100)),
    *_crm_common(),
)

crm_target_list_member = Table(
    "crm_target_list_member",
    metadata,
    Column("list_id", CrmId, primary_key=True),
    Column("module", String(32), primary_key=True),  # Accounts | Contacts | Leads | Prospects
    Column("record_id", CrmId, primary_key=True),
    Column("deleted", Boolean, nullable=False),
    Column("extracted_run_id", Id, nullable=False),
    Index(None, "record_id"),
)

crm_campaign_log = Table(
    "crm_campaign_log",
    metadata,
    Column("id", CrmId, primary_key=True),
    Column("campaign_id", CrmId),
    Column("target_id", CrmId),
    Column("target_type", String(100)),
    Column("activity_type", String(100)),  # targeted, viewed, link, lead, contact, blocked, ...
    Column("activity_date", DateTime),
    Column("related_id", CrmId),
    Column("related_type", String(100)),
    *_crm_common(),
    Index(None, "target_id"),
)

crm_extract_state = Table(
    "crm_extract_state",
    metadata,
    # One row per extracted module, written in the same transaction as the page of rows it
    # covers: the greatest date_modified committed, with the id that breaks ties at that second.
    Column("module", String(32), primary_key=True),
    Column("watermark", DateTime),
    Column("watermark_id", CrmId),
    Column("last_full_at", DateTime),
    Column("run_id", Id, nullable=False),
)
