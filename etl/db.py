"""Warehouse connections and schema migrations (Alembic, configured without an ``alembic.ini``).

``create_engine_for(url)`` builds an engine tuned per dialect (SQLite: WAL, foreign keys, busy
timeout, real transactions; MariaDB/MySQL: ``pool_pre_ping``, utf8mb4; PostgreSQL: psycopg 3,
``pool_pre_ping``). ``upgrade(engine)`` applies
the migrations shipped in ``etl/migrations``; ``ensure_current(engine)`` is what every command calls
first: it upgrades automatically or refuses with a message saying what to run.

Alembic is imported when a migration runs or the chain must be inspected, not with the module:
checking that a warehouse is current reads the revision ids from the migration files
(:func:`head_revision`), so commands that only read the warehouse do not load it.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from etl import spider
from etl.exceptions import EtlError, MigrationError, WarehouseNotCurrent, WarehouseUnavailable

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 16_384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling starts transactions late and never for DDL; switch it
    # off and let SQLAlchemy emit BEGIN, so a batch (and a migration) is one real transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Only a new, empty file takes it (SQLite ignores it once the file has pages): 16 KiB
        # pages make the facts' b-trees shallower and a load's commits smaller than the 4 KiB
        # default (measured: 9 % of a 1 M-line load).
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the loader
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL is durable against a killed process in WAL mode (only power loss can lose the
        # last commit), and much faster than FULL.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


#: SQLite page cache of a loading connection, in KiB. The default (2 MiB) is far smaller than
#: the indexes a batch touches (five tables, the facts' secondary indexes in customer and date
#: order, not file order), so the load spilled and re-read pages; 64 MiB holds them for a large
#: load and stays a fixed cost (memory flat in file size).
SQLITE_LOAD_CACHE_KIB = 65_536
#: WAL size, in KiB, at which a loading connection copies the WAL back into the database file
#: (SQLite's default is 1,000 pages, 4 MiB at 4 KiB pages). A batch rewrites the same index
#: pages as the one before; with the default, nearly every commit copied them all back and
#: synced the file again (measured: 7 % of a 1 M-line load). The WAL grows to about this much
#: plus one batch, and is reset after each copy.
SQLITE_LOAD_CHECKPOINT_KIB = 65_536


@contextmanager
def load_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for writing one of a load's batches (the caller begins and commits).

    On SQLite: a larger page cache, fewer and larger WAL checkpoints, and no per-row
    foreign-key checks. Every key a batch writes comes from a look-up or an insert of that
    batch's own transaction, which holds SQLite's write lock from its first write (a reader's
    snapshot cannot go stale under it), so the checks could not fail; they cost a b-tree probe
    per key (measured: 10 % of a 1 M-line load). MariaDB and PostgreSQL keep checking every row
    (the tests load through them with the same code), as does every other SQLite connection;
    the checks are back on before the connection returns to the pool. None of this touches
    durability: a committed batch survives a killed process as before.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        raw = conn.connection.driver_connection
        assert raw is not None  # a live connection, just checked out
        raw.execute("PRAGMA foreign_keys=OFF")  # no transaction is open yet: it takes effect
        try:
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
            page_kib = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one()) // 1024
            pages = SQLITE_LOAD_CHECKPOINT_KIB // max(1, page_kib)
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={pages}")
            yield conn
        finally:
            if not conn.invalidated:
                if conn.in_transaction():
                    conn.rollback()
                raw.execute("PRAGMA foreign_keys=ON")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def cancel_statement(conn: Connection) -> bool:
    """Ask the warehouse to stop the statement ``conn`` is running in another thread (Ctrl-C in
    the thread that waits for it); the statement then fails in its own thread. SQLite's
    ``interrupt`` and psycopg's ``cancel_safe`` are made to be called from another thread;
    PyMySQL has no such call, so MariaDB is sent ``KILL QUERY`` with the connection's id from
    another connection of the engine (a user may stop its own statements). False where the
    engine offers none of these."""
    dbapi_connection: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        dbapi_connection.interrupt()
        return True
    if conn.dialect.name == "postgresql":
        dbapi_connection.cancel_safe(timeout=10.0)
        return True
    if conn.dialect.name in ("mysql", "mariadb") and conn.dialect.driver == "pymysql":
        thread = int(dbapi_connection.thread_id())
        with conn.engine.connect() as other:
            other.exec_driver_sql(f"KILL QUERY {thread}")
        return True
    return False


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for the warehouse at ``url``, with the per-dialect settings the ETL relies on.

    A SQLite file's parent directory is created. Extra keyword arguments go to
    ``sqlalchemy.create_engine``.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend in ("mysql", "mariadb"):
        # engine=spider (and spider_servers=a,b) are ours, not the driver's: see etl/spider.py.
        engine_name = parsed.query.get("engine")
        servers = parsed.query.get("spider_servers")
        if engine_name is not None or servers is not None:
            if engine_name not in (None, "spider", "innodb"):
                raise EtlError(
                    f"unknown warehouse engine {engine_name!r} in the URL (spider or innodb)"
                )
            parsed = parsed.difference_update_query(["engine", "spider_servers"])
            options = dict(kwargs.pop("execution_options", None) or {})
            options[spider.ENGINE_OPTION] = engine_name or "innodb"
            if servers:
                text_servers = servers if isinstance(servers, str) else ",".join(servers)
                names = tuple(n.strip() for n in text_servers.split(",") if n.strip())
                options[spider.SERVERS_OPTION] = names
            kwargs["execution_options"] = options
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_recycle", 3600)
        engine = create_engine(parsed, **kwargs)
        if engine_name == "spider":
            event.listen(engine, "connect", spider.session_settings)
        return engine
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.0's default PostgreSQL driver is psycopg2; the one we ship is psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations (no ini file involved)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision shipped with this code (the chain must be linear and complete).

    Read from the migration files' ``revision`` and ``down_revision`` lines when they make one
    linear chain (the common case, no Alembic import); anything else is left to Alembic, which
    says what is wrong.
    """
    head = _linear_head(_versions_dir())
    return head if head is not None else _alembic_head()


def _versions_dir() -> Path:
    return MIGRATIONS_DIR / "versions"


_ID = r"""(?:\s*:\s*[^=]+?)?\s*=\s*(?:["']([^"']+)["']|None)\s*(?:#.*)?$"""
_REVISION = re.compile(r"^revision" + _ID, re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision" + _ID, re.MULTILINE)


def _linear_head(versions: Path) -> str | None:
    """The head of the migrations in ``versions`` when each file names one revision and one
    parent (or none) and they form one chain; None when they do not (or cannot be read so)."""
    parents: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revisions, downs = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        if not revisions and not downs and path.name == "__init__.py":
            continue
        if len(revisions) != 1 or len(downs) != 1 or not revisions[0] or revisions[0] in parents:
            return None
        parents[revisions[0]] = downs[0] or None
    children = [parent for parent in parents.values() if parent is not None]
    if not parents or len(set(children)) != len(children) or not set(children) <= set(parents):
        return None
    heads = set(parents) - set(children)
    roots = [rev for rev, parent in parents.items() if parent is None]
    if len(heads) != 1 or len(roots) != 1:
        return None
    return heads.pop()


def _alembic_head() -> str:
    from alembic.util import CommandError

    try:
        head = _script().get_current_head()
    except (CommandError, KeyError) as exc:
        raise MigrationError(f"the packaged migrations are inconsistent: {exc}") from None
    if head is None:
        raise MigrationError("etl/migrations has no revision")
    return head


def current_revision(engine: Engine) -> str | None:
    """The warehouse's revision (``None`` for an empty database)."""
    # Read alembic_version directly: MigrationContext would log at INFO on every command.
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            heads = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except OperationalError as exc:
        problem = _connection_problem(exc, engine.url) or _describe(exc)
        raise WarehouseUnavailable(f"cannot open the warehouse: {problem}") from None
    if len(heads) > 1:
        raise WarehouseNotCurrent(f"the warehouse has several schema heads: {', '.join(heads)}")
    return str(heads[0]) if heads else None


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply the migrations up to ``revision``; returns the revision the warehouse is now at."""
    from alembic import command
    from alembic.util import CommandError

    before = current_revision(engine)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    except (SQLAlchemyError, CommandError, KeyError) as exc:
        raise MigrationError(
            f"migrating the warehouse from {before or 'empty'} to {revision} failed: "
            f"{_describe(exc)}"
        ) from exc
    after = current_revision(engine)
    if after != before:
        log.info("warehouse migrated from %s to %s", before or "empty", after)
    return after or ""


def ensure_current(engine: Engine, auto: bool = True) -> str:
    """Make sure the warehouse schema is at the code's head revision.

    With ``auto`` the missing migrations are applied; without, ``WarehouseNotCurrent`` says what
    to run. A warehouse at a revision this code does not know (written by a newer version) is
    never touched.
    """
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    if current is not None and not _known(current):
        raise WarehouseNotCurrent(
            f"the warehouse is at schema revision {current}, which this version of sugar-bridge "
            f"does not know (its newest is {head}): upgrade sugar-bridge"
        )
    if not auto:
        raise WarehouseNotCurrent(
            f"the warehouse schema is at revision {current or 'none (empty database)'}, "
            f"this version needs {head}: run `sugar-bridge db upgrade`"
        )
    return upgrade(engine)


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script().get_revision(revision) is not None
    except (CommandError, KeyError):
        return False


def _connection_problem(exc: Exception, url: URL) -> str | None:
    """What failed when connecting, if the driver kept the socket error: DNS or a refused port.

    PyMySQL keeps it as ``original_exception``; other drivers' own messages say it already.
    """
    cause = getattr(getattr(exc, "orig", None), "original_exception", None)
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve host {url.host}"
    if isinstance(cause, ConnectionRefusedError):
        return f"nothing listening at {url.host}:{url.port or 3306} (connection refused)"
    return None


def _describe(exc: Exception) -> str:
    # The driver's message without the SQL statement and parameters (they may hold row data).
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else type(exc).__name__
