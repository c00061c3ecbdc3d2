"""Fixtures of the push tests: a sandbox Sugar with the segment fields, a seeded warehouse."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from connectors.sugar.client import SugarClient
from etl.db import create_engine_for
from etl.schema import analytics_run, customer_metrics, dim_customer, etl_run, metadata
from sugar_bridge.push.config import PushConfig
from sugar_bridge.sandbox import Faults, Sandbox
from tests.etl.fixtures import (
    BACKENDS,
    _empty_tables,
    server_warehouse,
)

SEGMENT_OPTIONS = {
    "champions": "Champions",
    "loyal": "Loyal",
    "potential_loyalists": "Potential loyalists",
    "new_customers": "New customers",
    "promising": "Promising",
    "need_attention": "Need attention",
    "about_to_sleep": "About to sleep",
    "at_risk": "At risk",
    "cant_lose_them": "Can't lose them",
    "hibernating": "Hibernating",
    "lost": "Lost",
}

# The Accounts custom fields of the example config (config/sugar-bridge.yaml).
FIELDS: list[dict[str, Any]] = [
    {"name": "external_id_c", "type": "varchar", "len": 64, "label": "External ID"},
    {"name": "segment_c", "type": "enum", "label": "Segment", "options": SEGMENT_OPTIONS},
    {
        "name": "lifecycle_stage_c",
        "type": "enum",
        "label": "Lifecycle stage",
        "options": {
            "prospect": "Prospect",
            "new": "New",
            "active": "Active",
            "declining": "Declining",
            "lost": "Lost",
        },
    },
    {"name": "rfm_score_c", "type": "int", "label": "RFM score"},
    {"name": "clv_12m_c", "type": "currency", "label": "CLV 12 months", "precision": 2},
    {"name": "p_alive_c", "type": "decimal", "label": "P(alive)", "len": 6, "precision": 4},
    {"name": "n_orders_c", "type": "int", "label": "Number of orders"},
    {"name": "avg_order_amount_c", "type": "currency", "label": "Avg order", "precision": 2},
    {"name": "last_order_at_c", "type": "date", "label": "Last order"},
    {
        "name": "preferred_payment_c",
        "type": "enum",
        "label": "Preferred payment",
        "options": {"card": "Card", "transfer": "Transfer", "cheque": "Cheque", "other": "Other"},
    },
    {"name": "avg_payment_delay_c", "type": "decimal", "label": "Delay", "precision": 1},
    {"name": "segment_updated_c", "type": "datetime", "label": "Segment updated"},
]

SEGMENTS = ["Champions", "Loyal", "At risk", "Can't lose them", "Lost"]


def client_for(sb: Sandbox, **kw: Any) -> SugarClient:
    """A fresh client of the sandbox (own session), quick to retry."""
    options: dict[str, Any] = {"max_retries": 6, "backoff": 0.01, "backoff_cap": 0.05}
    options.update(kw)
    return SugarClient(sb.base_url, "admin", sb.admin_password, **options)


def provision(sb: Sandbox, modules: tuple[str, ...] = ("Accounts", "Contacts")) -> None:
    """Create the segment fields, as `provision apply` does with the example config (on
    Accounts, and on Contacts for the persons)."""
    with client_for(sb) as client:
        for module in modules:
            for spec in FIELDS:
                client.call_extension(
                    "bridge_ensure_custom_field",
                    module_name=module,
                    field=spec,
                    views=["detailview"],
                )


@dataclass
class Warehouse:
    """A SQLite warehouse with customers and analytics runs written directly."""

    engine: Engine
    as_of: date = date(2026, 11, 24)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_customer(
        self,
        cid: str,
        name: str,
        email: str | None = None,
        *,
        city: str | None = None,
        country: str | None = None,
        customer_type: str | None = None,
        **habits: Any,
    ) -> None:
        now = datetime(2026, 1, 1)
        with self.engine.begin() as conn:
            conn.execute(
                insert(dim_customer).values(
                    source="shop",
                    source_customer_id=cid,
                    name=name,
                    email=email,
                    city=city,
                    country=country,
                    customer_type=customer_type,
                    first_seen_at=now,
                    updated_at=now,
                )
            )
        base = {
            "n_orders": 5,
            "total_amount": 1000,
            "avg_order_amount": 200,
            "last_order_at": datetime(2026, 10, 1, 15, 30),
            "recency_days": 54,
            "preferred_payment_method": "card",
            "avg_payment_delay_days": 12.25,
            "r_score": 4,
            "f_score": 3,
            "m_score": 5,
            "rfm_segment": "Loyal",
            "lifecycle_stage": "active",
            "p_alive": 0.87654,
            "expected_orders_90d": 1.2,
            "clv_12m": 1234.5,
        }
        self.customers[cid] = base | habits

    def set(self, cid: str, **habits: Any) -> None:
        self.customers[cid] |= habits

    def analyse(self) -> int:
        """Write one analytics run with the current figures (the view shows the latest)."""
        now = datetime(2026, 11, 24, 2, 0)
        with self.engine.begin() as conn:
            pk = conn.execute(
                insert(etl_run).values(job="analytics", started_at=now, status="ok")
            ).inserted_primary_key
            assert pk is not None
            run_id = int(pk[0])
            conn.execute(
                insert(analytics_run).values(
                    run_id=run_id,
                    as_of=self.as_of,
                    n_customers=len(self.customers),
                    n_buyers=len(self.customers),
                    time_unit="days",
                    created_at=now,
                )
            )
            keys = dict(
                conn.execute(
                    select(dim_customer.c.source_customer_id, dim_customer.c.customer_key)
                ).all()
            )
            conn.execute(
                insert(customer_metrics),
                [
                    {
                        "run_id": run_id,
                        "customer_key": keys[cid],
                        "as_of": self.as_of,
                        "source": "shop",
                        "customer_id": cid,
                    }
                    | values
                    for cid, values in self.customers.items()
                ],
            )
        return run_id


@pytest.fixture(params=BACKENDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """An empty warehouse: a SQLite file, or (markers mysql, postgres) the session's MariaDB or
    PostgreSQL database."""
    if request.param == "sqlite":
        engine = create_engine_for(f"sqlite:///{tmp_path / 'warehouse.db'}")
        metadata.create_all(engine)
        yield Warehouse(engine)
        engine.dispose()
        return
    _, engine = server_warehouse(request, request.param)
    yield Warehouse(engine)
    _empty_tables(engine)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox()
    sb.start()
    provision(sb)
    sb.stats.reset()
    yield sb
    sb.close()


def make_sandbox(faults: Faults | None = None) -> Sandbox:
    """A started, provisioned sandbox (faults switched on after provisioning)."""
    sb = Sandbox()
    sb.start()
    provision(sb)
    if faults is not None:
        from sugar_bridge.sandbox.faults import FaultPlan

        sb.faults = FaultPlan(faults)
    sb.stats.reset()
    return sb


def factory(sb: Sandbox, **kw: Any) -> Callable[[], SugarClient]:
    """The client factory the push takes."""
    return lambda: client_for(sb, **kw)


def push_config(**overrides: Any) -> PushConfig:
    """The default push config with small batches and the segments of these tests."""
    data: dict[str, Any] = {
        "batch_size": 7,
        "sessions": 2,
        "target_lists": {"segments": SEGMENTS},
        "followups": [
            {
                "name": "declining",
                "column": "lifecycle_stage",
                "enters": ["declining"],
                "subject": "Relancer {{ account_name }}",
                "description": "{{ n_orders }} orders, last {{ last_order_at }}; "
                "{{ old_value }} → {{ new_value }}",
            },
            {
                "name": "at-risk-call",
                "column": "rfm_segment",
                "enters": ["At risk", "Can't lose them"],
                "module": "Calls",
                "subject": "Call {{ account_name }} ({{ new_value }})",
            },
        ],
    }
    data.update(overrides)
    return PushConfig.model_validate(data)


def sugar_push_state(client: SugarClient) -> dict[str, Any]:
    """What pushes left in Sugar, keyed by external id (record ids and run times differ between
    sandboxes): account names and custom values, target-list members, tasks and calls."""
    accounts = client.module("Accounts").list(fields=None)
    ext = {a["id"]: str(a.get("external_id_c") or "") for a in accounts}
    values = {
        ext[a["id"]]: {
            k: v
            for k, v in a.items()
            if (k.endswith("_c") and k != "segment_updated_c") or k == "name"
        }
        for a in accounts
    }
    lists_mod = client.module("ProspectLists")
    lists = {
        rec["name"]: sorted(ext[m["id"]] for m in lists_mod.related(rec["id"], "accounts"))
        for rec in lists_mod.list(fields=["id", "name"])
    }
    followups = Counter(
        (module, ext.get(str(r.get("parent_id")), "?"), r.get("name"))
        for module in ("Tasks", "Calls")
        for r in client.module(module).list(fields=["id", "name", "parent_id"])
    )
    return {
        "n_accounts": len(accounts),
        "per_external_id": Counter(ext.values()),
        "values": values,
        "lists": lists,
        "followups": followups,
    }
