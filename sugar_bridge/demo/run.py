"""``sugar-bridge demo``: the whole job on embedded defaults, in one command, offline.

Phases (each timed; a failing one raises :class:`PipelineStepFailed` naming it, nothing is faked):

1. **sandbox** — a local v4_1 Sugar lookalike on a free port, its state in ``<data>/sandbox.db``
   (kept afterwards, so ``sugar-bridge sandbox accounts`` can show what was pushed);
2. **provision** — the example config's ``sugar:`` section applied to it (custom fields, roles with
   rights, security groups, users, key accounts), as ``provision apply`` does on a real Sugar;
3. **generate** — three years of orders for the seed company (:mod:`sugar_bridge.demo.generator`),
   with a handful of deliberately bad rows to show the rejects;
4. **two nights of sync** — the real pipeline (extract → validate → load into the SQLite warehouse
   ``<data>/warehouse.db`` → analyse → push into the sandbox), first with the shop's export up to a
   week before the end, then with the last week's export (new orders, and older ones re-exported
   because their payment came in): the second night loads only the delta, pushes only the accounts
   that changed, and creates the follow-up tasks and calls of the accounts that entered a segment
   or stage the commercial policy watches;
5. **report** — the analyst's HTML report, ``<data>/report.html``.

The demo never touches a configured real Sugar or warehouse: it builds its own settings (SQLite in
the data directory, the sandbox's URL). It only deletes files it made itself (a marker file says
so); a data directory holding another warehouse is refused.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.orders.config import CsvSourceConfig, SourcesConfig
from sugar_bridge.config import ProjectConfig
from sugar_bridge.demo.generator import GenerationInfo, GeneratorOptions, write_orders_csv
from sugar_bridge.exceptions import ConfigError, PipelineStepFailed
from sugar_bridge.pipeline import Progress, StepInfo, SyncInfo, sync
from sugar_bridge.runtime import Runtime
from sugar_bridge.settings import Settings, load_settings

log = logging.getLogger(__name__)

MARKER = ".sugar-bridge-demo"
_MADE = ("warehouse.db", "sandbox.db", "report.html", "demo-passwords.tsv")


@dataclass(frozen=True)
class DemoOptions:
    """What the demo does; ``as_of`` is the last day of the history and the statistics' date."""

    data_dir: Path
    as_of: date
    customers: int = 3000
    seed: int = 42
    bad_rows: bool = True
    port: int = 0


@dataclass
class DemoResult:
    """Everything the summary shows."""

    data_dir: Path
    sandbox_url: str = ""
    sandbox_db: Path | None = None
    crm: dict[str, int] = field(default_factory=dict)  # CRM records seeded, per module
    provisioned: dict[str, dict[str, int]] = field(default_factory=dict)
    passwords_file: Path | None = None
    orders: GenerationInfo | None = None
    syncs: list[SyncInfo] = field(default_factory=list)  # one per night, in order
    report: Path | None = None
    segments: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # phase: seconds

    @property
    def sync(self) -> SyncInfo | None:
        """The last night's sync."""
        return self.syncs[-1] if self.syncs else None

    @property
    def seconds(self) -> float:
        """Wall time of all phases."""
        return sum(self.phases.values())


Phase = Callable[[str, str], None]
"""``on_phase(name, message)``: called when a phase ends (the CLI prints it)."""


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir or clear an earlier demo's files; refuse anyone else's warehouse."""
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / MARKER
    foreign = [n for n in ("warehouse.db", "sandbox.db") if (data_dir / n).exists()]
    if foreign and not marker.exists():
        raise ConfigError(
            f"{data_dir} already holds {', '.join(foreign)} not made by the demo: run the demo "
            "with --data-dir pointing at another directory (it never overwrites a real warehouse)"
        )
    for name in _MADE:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (data_dir / f"{name}{suffix}").unlink(missing_ok=True)
    for folder in ("demo-orders", "demo-exports"):
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    marker.write_text(
        "Files in this directory were written by `sugar-bridge demo`, which may replace them.\n",
        encoding="utf-8",
    )


@contextmanager
def _phase(result: DemoResult, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except PipelineStepFailed:
        raise
    except Exception as exc:
        raise PipelineStepFailed(name, exc) from exc
    finally:
        result.phases[name] = time.perf_counter() - started


def demo_settings(options: DemoOptions, sandbox_url: str, password: str) -> Settings:
    """Settings for the demo only: the SQLite warehouse in the data dir and the sandbox."""
    warehouse = options.data_dir.resolve() / "warehouse.db"
    return load_settings(
        data_dir=options.data_dir,
        warehouse_url=f"sqlite:///{warehouse}",
        sugar_url=sandbox_url,
        sugar_username="admin",
        sugar_password=password,
        sugar_verify_tls=True,
    )


def run_demo(
    options: DemoOptions,
    config: ProjectConfig,
    *,
    on_phase: Phase | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_secret: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Run every phase (module docstring) and return what the summary needs.

    ``progress`` is handed to each night's sync (load, analytics, push). ``on_secret`` receives
    the sandbox admin's and the generated users' passwords, so that the caller can mask them in
    logs; none of them is returned or printed.
    """
    # Each part is imported inside its phase: a missing or broken part fails that phase, by name.
    notify = on_phase or (lambda name, message: None)
    result = DemoResult(data_dir=options.data_dir)
    prepare_data_dir(options.data_dir)
    db = options.data_dir / "sandbox.db"
    with _phase(result, "sandbox"):
        from sugar_bridge.sandbox import Sandbox

        sandbox = Sandbox(db_path=db, port=options.port)
        result.sandbox_url = sandbox.start()
        result.sandbox_db = db
        if on_secret is not None:
            on_secret(sandbox.admin_password)
    notify("sandbox", f"local Sugar sandbox at {result.sandbox_url} (state in {db})")
    try:
        settings = demo_settings(options, result.sandbox_url, sandbox.admin_password)
        with _phase(result, "provision"):
            from sugar_bridge.provision.apply import apply
            from sugar_bridge.sugar import make_client

            with make_client(settings) as client:
                applied = apply(
                    client,
                    config.sugar,
                    passwords_file=options.data_dir / "demo-passwords.tsv",
                    on_secret=on_secret,
                )
            result.provisioned = applied.summary()
            result.passwords_file = applied.password_file if applied.passwords_written else None
        made = sum(sum(actions.values()) for actions in result.provisioned.values())
        notify("provision", f"{made} objects created from the example config's sugar: section")

        exports = options.data_dir / "demo-exports"  # what the shop's system exported
        orders_dir = options.data_dir / "demo-orders"  # the folder the CSV source reads
        first_night = options.as_of - timedelta(days=7)
        with _phase(result, "generate"):
            result.orders = write_orders_csv(
                exports,
                GeneratorOptions(
                    end=options.as_of,
                    seed=options.seed,
                    n_customers=options.customers,
                    bad_rows=options.bad_rows,
                ),
                split="cuts",
                cuts=[first_night],
            )
        info = result.orders
        notify(
            "generate",
            f"{info.n_orders:,} orders of {info.n_customers:,} customers, {info.first_date} to "
            f"{info.last_date}, as two nightly exports ({info.n_bad_rows} bad rows on purpose)",
        )

        sources = SourcesConfig(inputs=[CsvSourceConfig(name="shop", path=orders_dir)])
        # The nightly sync extracts Sugar's records too (the CRM the sales team keeps).
        sugar_source = config.sugar_source.model_copy(update={"enabled": True})
        night_config = config.model_copy(update={"sources": sources, "sugar_source": sugar_source})
        engine = Runtime(settings, night_config).connect_warehouse("write")
        orders_dir.mkdir(parents=True, exist_ok=True)
        nights = [first_night, options.as_of]
        for night, (export, as_of) in enumerate(zip(info.paths, nights, strict=True), start=1):
            name = f"night {night}"
            with _phase(result, name):
                shutil.copy2(export, orders_dir / export.name)  # the night's export arrives
                # Each night runs as on its own date: the nightly sync of that day, pushed.
                runtime = Runtime(settings, night_config, clock=_night_of(as_of, settings))
                run = sync(
                    runtime, as_of=as_of, engine=engine, purpose="demo",
                    on_step=on_step, progress=progress,
                )  # fmt: skip
                result.syncs.append(run)
            why = f" ({run.rows_rejected} rows rejected, on purpose)" if run.rows_rejected else ""
            notify(name, f"sync run {run.run_id} as of {as_of}: {run.status}{why}")
            if night == 1:
                with _phase(result, "crm"):
                    result.crm = _seed_crm(
                        engine, settings, options, first_night, sandbox.import_records
                    )
                notify(
                    "crm",
                    "the sales team's CRM in Sugar: "
                    + ", ".join(f"{n:,} {m}" for m, n in result.crm.items()),
                )

        with _phase(result, "report"):
            from analytics.report import write_report

            report = write_report(
                engine,
                config.analytics,
                options.as_of,
                options.data_dir / "report.html",
                locale=settings.locale,
            )
            result.report = report.path
            result.segments = _segment_sizes(engine)
        notify("report", f"HTML report written to {result.report}")
    finally:
        sandbox.stop()
    return result


def _seed_crm(
    engine: Any,
    settings: Settings,
    options: DemoOptions,
    as_of: date,
    importer: Callable[[str, list[dict[str, Any]]], Any],
) -> dict[str, int]:
    """Contacts, leads, opportunities, cases, calls and meetings for the demo customers, written
    into the sandbox for the accounts the first night's push matched (sugar_bridge.demo.crm);
    the cases as an imported history (``importer``: the sandbox's ``import_records``)."""
    from sqlalchemy import func, select

    from etl.schema import dim_customer, fact_order
    from sugar_bridge.demo.crm import CrmCustomer, crm_records, seed_crm
    from sugar_bridge.demo.generator import make_customers
    from sugar_bridge.sugar import make_client

    with engine.connect() as conn:
        known = {
            row.source_customer_id: (row.sugar_account_id, row.first, row.sugar_contact_id)
            for row in conn.execute(
                select(
                    dim_customer.c.source_customer_id,
                    dim_customer.c.sugar_account_id,
                    dim_customer.c.sugar_contact_id,
                    func.min(fact_order.c.ordered_at).label("first"),
                )
                .select_from(dim_customer.outerjoin(fact_order))
                .group_by(
                    dim_customer.c.source_customer_id,
                    dim_customer.c.sugar_account_id,
                    dim_customer.c.sugar_contact_id,
                )
            )
        }
    people = make_customers(
        GeneratorOptions(end=options.as_of, seed=options.seed, n_customers=options.customers)
    )
    customers = [
        CrmCustomer(
            customer_id=c.customer_id,
            name=c.name,
            email=c.email,
            is_business=c.is_business,
            account_id=known.get(c.customer_id, (None, None, None))[0],
            contact_id=known.get(c.customer_id, (None, None, None))[2],
            first_order=first.date()
            if (first := known.get(c.customer_id, (None, None, None))[1])
            else None,
            archetype=c.archetype,
        )
        for c in people
    ]
    records = crm_records(customers, seed=options.seed, as_of=as_of)
    with make_client(settings) as client:
        return seed_crm(client, records, importer=importer)


def _segment_sizes(engine: Any) -> dict[str, int]:
    """Customers per RFM segment in the latest statistics (``customer_habits``)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rfm_segment, COUNT(*) FROM customer_habits "
                "WHERE rfm_segment IS NOT NULL GROUP BY rfm_segment ORDER BY COUNT(*) DESC"
            )
        ).all()
    return {str(segment): int(n) for segment, n in rows}


def _night_of(day: date, settings: Settings) -> Callable[[], datetime]:
    """A clock at the evening of ``day`` in the configured time zone (the nightly sync's)."""
    instant = datetime.combine(day, day_time(22, 0), tzinfo=ZoneInfo(settings.timezone))
    return lambda: instant
