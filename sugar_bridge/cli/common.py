"""What the CLI commands share: the runtime built once, error → exit code, shared options and
renderers. CLI modules import shared helpers from here (and ``output``), never from each other.

Exit codes: 0 ok, 1 failed, 2 config error (nothing done), 3 completed with rejected rows or
failed pushes.

Nothing heavy is imported at module level here or in any ``sugar_bridge.cli`` module: the whole
command tree is built for ``--version`` and ``--help``, which must stay instant, so settings,
the config, the warehouse and the models are imported by the commands that use them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.table import Table

from sugar_bridge.cli.output import console, report_problem
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.logs import setup_logging

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from analytics.i18n import Texts
    from sugar_bridge.pipeline import StepInfo
    from sugar_bridge.runtime import Runtime
    from sugar_bridge.scheduler.service import SchedulerStatus
    from sugar_bridge.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_PARTIAL = 3

P = ParamSpec("P")
R = TypeVar("R")


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Compute as of this date (YYYY-MM-DD; orders after it are ignored). "
        "Default: today in SUGAR_BRIDGE_TIMEZONE.",
    ),
]


def make_runtime() -> Runtime:
    """Load settings, set up logging with the known secrets masked; the command's runtime."""
    from sugar_bridge.runtime import Runtime
    from sugar_bridge.settings import load_settings

    settings = load_settings()
    secrets: list[str] = []
    if settings.sugar_password is not None:
        import hashlib

        plain = settings.sugar_password.get_secret_value()
        secrets += [plain, hashlib.md5(plain.encode()).hexdigest()]  # noqa: S324 - Sugar's login hash
    if settings.warehouse_url is not None:
        from sqlalchemy.engine import make_url

        password = make_url(settings.warehouse_url.get_secret_value()).password
        if password:
            secrets.append(str(password))
    masking = setup_logging(settings.log_level, settings.log_format, secrets)
    return Runtime(settings, masking=masking)


@contextmanager
def sync_exclusive(runtime: Runtime, purpose: str, *, config: bool = True) -> Iterator[Engine]:
    """The warehouse for a command that writes what a sync writes (``etl run``, ``analytics
    run``, ``segments push``), with the sync's job lock held: it never runs beside a sync (the
    scheduler's or an operator's) or another such command. ``LockHeldError`` names the holder
    and nothing is written. The lease is the config's ``schedule.lock_ttl_seconds``; without
    ``config`` (``etl run --csv`` reads no config file) the lock's default."""
    from sugar_bridge.scheduler.locks import DEFAULT_TTL, SYNC_LOCK, JobLock

    lease = timedelta(seconds=runtime.config.schedule.lock_ttl_seconds) if config else DEFAULT_TTL
    with (
        runtime.warehouse("write") as engine,
        JobLock(engine, SYNC_LOCK, purpose=purpose, ttl=lease),
    ):
        yield engine


def quiet_library_logs(settings: Settings) -> None:
    """For a command that reports its own steps: library INFO lines would repeat them.

    Only with plain logs at the default level: warnings still show, the CLI's own progress lines
    too, and an explicit ``SUGAR_BRIDGE_LOG_LEVEL`` or JSON logs keep every record.
    """
    if settings.log_format == "plain" and "log_level" not in settings.model_fields_set:
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("sugar_bridge.cli").setLevel(logging.INFO)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; map our exceptions to a one-line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            report_problem("config error", str(exc))
            raise typer.Exit(EXIT_CONFIG) from None
        except Exception as exc:
            if isinstance(exc, _known_errors()):
                logging.getLogger("sugar_bridge").debug("command failed", exc_info=True)
                report_problem("error", str(exc))
                raise typer.Exit(EXIT_FAILED) from None
            # The sandbox's errors are a tree of their own (it stands apart from the bridge). Its
            # package is imported only now, on an error: commands that never start a sandbox do
            # not pay for loading it.
            from sugar_bridge.sandbox.exceptions import SandboxConfigError, SandboxError

            if not isinstance(exc, SandboxError):
                raise
            config = isinstance(exc, SandboxConfigError)
            label = "config error" if config else "error"
            report_problem(label, str(exc))
            raise typer.Exit(EXIT_CONFIG if config else EXIT_FAILED) from None

    return wrapper


def _known_errors() -> tuple[type[Exception], ...]:
    """The exception roots a command turns into "error: ..." and exit code 1.

    Imported when an exception is being handled, not with the CLI: ``etl`` and ``analytics``
    import pandas and SQLAlchemy with their packages, and by then the command has loaded them.
    """
    from analytics.exceptions import AnalyticsError
    from connectors.orders.exceptions import SourceError
    from connectors.sugar.exceptions import SugarError
    from etl.exceptions import EtlError
    from sugar_bridge.exceptions import SugarBridgeError

    return (SugarBridgeError, SugarError, EtlError, SourceError, AnalyticsError)


# --- renderers shared by several commands ---------------------------------------------------


def texts(runtime: Runtime | None = None) -> Texts:
    """The human summaries' texts, numbers and dates in SUGAR_BRIDGE_LOCALE (English without a
    runtime); ``--json`` output stays language-neutral and never goes through them."""
    from analytics.i18n import Texts

    return Texts.for_locale(runtime.settings.locale if runtime is not None else None)


def _count_labels(t: Texts) -> dict[str, str]:
    _ = t.gettext
    return {
        "sources": _("sources"),
        "rows_read": _("rows read"),
        "rows_skipped": _("rows skipped"),
        "valid": _("valid"),
        "rejected": _("rejected"),
        "rows_loaded": _("rows loaded"),
        "orders_inserted": _("orders inserted"),
        "orders_updated": _("orders updated"),
        "orders_unchanged": _("orders unchanged"),
        "lines_written": _("lines written"),
        "batches": _("batches"),
        "rates_loaded": _("rates loaded"),
        "rates_rejected": _("rates rejected"),
        "orders_without_rate": _("orders without a rate"),
        "customers": _("customers"),
        "buyers": _("buyers"),
        "orders": _("orders"),
        "segments": _("segments"),
        "matched": _("matched"),
        "ambiguous": _("ambiguous"),
        "unmatched": _("unmatched"),
        "created": _("created"),
        "updated": _("updated"),
        "unchanged": _("unchanged"),
        "failed": _("failed"),
        "verified": _("verified"),
        "list_added": _("list members added"),
        "list_removed": _("list members removed"),
        "list_failed": _("list failures"),
        "tasks_created": _("follow-ups created"),
        "tasks_failed": _("follow-up failures"),
        "tasks_waiting": _("follow-ups waiting"),
        "tasks_still_open": _("follow-ups still open"),
        "tasks_unowned": _("follow-ups without an owner"),
        "owners_assigned": _("owners assigned"),
        "retired": _("old records emptied (customer moved)"),
        "sugar_writes": _("Sugar writes"),
        "transitions": _("transitions"),
        "records_read": _("records read"),
        "inserted": _("inserted"),
        "deleted": _("deleted"),
        "modules": _("modules"),
    }


def count_label(t: Texts, key: str, labels: dict[str, str] | None = None) -> str:
    """A step counter's words (``contacts_created`` → ``contacts: created``), in ``t``'s
    language; an unknown key as its words."""
    from sugar_bridge.pipeline import PERSONS_PREFIX

    labels = labels if labels is not None else _count_labels(t)
    if key in labels:
        return labels[key]
    if key.startswith(PERSONS_PREFIX) and key[len(PERSONS_PREFIX) :] in labels:
        what = labels[key[len(PERSONS_PREFIX) :]]
        return t.gettext("contacts: %(what)s") % {"what": what}
    return key.replace("_", " ")


def word(t: Texts, value: str) -> str:
    """A step name or status in the summaries' language (unknown ones as they are)."""
    _ = t.gettext
    words = {
        "extract": _("extract"),
        "validate": _("validate"),
        "load": _("load"),
        "analyse": _("analyse"),
        "push": _("push"),
        "crm": _("CRM"),
        "ok": _("ok"),
        "partial": _("partial"),
        "failed": _("failed"),
        "skipped": _("skipped"),
        "running": _("running"),
        "cancelled": _("cancelled"),
        "interrupted": _("interrupted"),
    }
    return words.get(value, value)


def step_counts(info: StepInfo, t: Texts | None = None) -> str:
    """A step's counts on one line (``rows read 120, rows loaded 118``), in ``t``'s language."""
    t = t or texts()
    labels = _count_labels(t)
    # Per-rule reject counts stay in the run's details (and `etl rejects`): one line per step here.
    shown = {k: v for k, v in info.counts.items() if v and ":" not in k}
    return ", ".join(f"{count_label(t, k, labels)} {t.number(v)}" for k, v in shown.items()) or "-"


def step_printer(t: Texts) -> Callable[[StepInfo], None]:
    """``print_step`` in ``t``'s language (the ``on_step`` of ``sync`` and ``demo``)."""
    return functools.partial(print_step, t=t)


def print_step(info: StepInfo, t: Texts | None = None) -> None:
    """One line per finished sync step, as the run goes (``sync``, ``demo``)."""
    t = t or texts()
    mark = "[green]✓[/]" if info.status == "ok" else "[yellow]![/]"
    note = f" ({info.note})" if info.note else ""
    seconds = t.number(info.seconds, 1)
    console.print(
        f"{mark} {word(t, info.name):<9} {seconds:>6} s  {step_counts(info, t)}{note}",
        highlight=False,
    )


def schedule_table(status: SchedulerStatus, t: Texts | None = None) -> Table:
    """Next runs and live schedulers (``scheduler next``, the schedule section of ``status``),
    in ``t``'s language (default English)."""
    from zoneinfo import ZoneInfo

    t = t or texts()
    _ = t.gettext
    zone = ZoneInfo(status.timezone)
    table = Table(title=_("schedule (%(zone)s)") % {"zone": status.timezone})
    table.add_column(_("job"))
    table.add_column(_("next run"))
    for job_id, when in status.next_runs.items():
        local = when.astimezone(zone)
        # The day in the locale's words; the hour on the 24-hour clock, which every reader reads.
        table.add_row(_job_label(job_id), f"{t.date(local.date())} {local:%H:%M %Z}")
    if status.instances:
        for inst in status.instances:
            table.add_row(
                _("scheduler"),
                _("running on %(host)s (pid %(pid)s), heartbeat %(beat)s UTC")
                % {
                    "host": inst["host"],
                    "pid": inst["pid"],
                    "beat": f"{inst['heartbeat_at']:%H:%M:%S}",
                },
            )
    else:
        table.add_row(_("scheduler"), _("not running (`sugar-bridge scheduler start`)"))
    return table


def schedule_document(status: SchedulerStatus) -> dict[str, Any]:
    """The schedule as JSON: next run of each job (ISO, in the schedule's zone), live schedulers."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(status.timezone)
    return {
        "timezone": status.timezone,
        "next_runs": {
            _job_label(job_id): when.astimezone(zone) for job_id, when in status.next_runs.items()
        },
        "running": bool(status.instances),
        "schedulers": status.instances,
    }


def _job_label(job_id: str) -> str:
    from sugar_bridge.scheduler.service import DRIFT_JOB_ID, SYNC_JOB_ID

    return {SYNC_JOB_ID: "sync", DRIFT_JOB_ID: "drift check"}.get(job_id, job_id)
