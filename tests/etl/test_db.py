"""Migrations: the packaged chain builds exactly ``etl/schema.py`` on every engine."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import SingletonThreadPool

from etl.db import (
    cancel_statement,
    create_engine_for,
    current_revision,
    ensure_current,
    head_revision,
    load_connection,
    upgrade,
)
from etl.exceptions import MigrationError, WarehouseNotCurrent, WarehouseUnavailable
from etl.schema import metadata
from etl.spider import FACT_DDL, facts_on_spider, forward_fact_ddl, nodes
from tests.etl.fixtures import (
    BACKENDS,
    SPIDER_ENV,
    fresh_database,
    scratch_database,
    server_warehouse,
)

# On Spider the facts' keys contain the shard key, their foreign keys are gone and their table
# comment is Spider's link to the nodes (versions/*_spider.py): exactly these differences.
SPIDER_DIFFERENCES = {
    ("remove_table_comment", "fact_order"),
    ("remove_table_comment", "fact_order_line"),
    ("remove_index", "ix_fact_order_source_source_order_id"),
    ("add_constraint", "uq_fact_order_source_source_order_id"),
    ("add_fk", "fk_fact_order_customer_key_dim_customer"),
    ("add_fk", "fk_fact_order_order_date_key_dim_date"),
    ("add_fk", "fk_fact_order_line_order_key_fact_order"),
    ("add_fk", "fk_fact_order_line_product_key_dim_product"),
}


def test_migrations_match_schema(warehouse: Engine) -> None:
    assert current_revision(warehouse) == head_revision()
    with warehouse.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        sharded = facts_on_spider(conn)
    if sharded:
        assert {(d[0], d[1].name) for d in diff} == SPIDER_DIFFERENCES
        assert len(diff) == len(SPIDER_DIFFERENCES)
    else:
        assert diff == []
    spider_port = _spider_port()
    # SQLite has no port, nor has the Spider URL when it is not set: None == None is no Spider.
    assert sharded == (spider_port is not None and warehouse.url.port == spider_port)


def _spider_port() -> int | None:
    url = os.environ.get(SPIDER_ENV)
    return make_url(url).port if url else None


def test_chain_starts_at_0001_and_is_linear() -> None:
    from alembic.script import ScriptDirectory

    from etl.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001"
    assert len(script.get_heads()) == 1


def test_ensure_current_refuses_or_upgrades(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'sub' / 'w.db'}")
    with pytest.raises(WarehouseNotCurrent, match="sugar-bridge db upgrade"):
        ensure_current(engine, auto=False)
    assert current_revision(engine) is None
    assert ensure_current(engine, auto=True) == head_revision()
    assert upgrade(engine) == head_revision()  # a second upgrade is a no-op
    assert "fact_order" in inspect(engine).get_table_names()


def test_unknown_revision_is_never_touched(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_current(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(WarehouseNotCurrent, match="does not know"):
        ensure_current(engine)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 16384  # a new file
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    with load_connection(engine) as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 4096  # 64 MiB
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0


def test_a_load_connection_gives_back_foreign_key_checks_even_when_it_fails(
    tmp_path: Path,
) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}", poolclass=SingletonThreadPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE p (k INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE c (k INTEGER REFERENCES p (k))")

    def failed_batch() -> None:
        with load_connection(engine) as conn:
            conn.exec_driver_sql("INSERT INTO c VALUES (1)")  # not checked here...
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        failed_batch()
    with engine.connect() as conn:  # ...the same pooled connection, checking again
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM c").scalar() == 0  # rolled back
        with pytest.raises(IntegrityError):
            conn.exec_driver_sql("INSERT INTO c VALUES (1)")
    engine.dispose()


def test_an_existing_sqlite_file_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as old:
        old.execute("PRAGMA page_size=4096")
        old.execute("CREATE TABLE t (x INTEGER)")
        old.commit()
    engine = create_engine_for(f"sqlite:///{path}")
    with load_connection(engine) as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 16384
    engine.dispose()


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    # No connection is made: the engine only has to pick the driver the package ships.
    engine = create_engine_for("postgresql://bridge:secret@127.0.0.1:5433/warehouse")
    assert engine.dialect.driver == "psycopg"
    assert create_engine_for("postgresql+psycopg://b@h/w").dialect.driver == "psycopg"


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_failed_upgrade_leaves_nothing_where_ddl_is_transactional(
    kind: str, tmp_path: Path
) -> None:
    # 0004 creates job_lock, then scheduler_instance, which is in the way here.
    for url in scratch_database(kind, tmp_path):
        engine = create_engine_for(url)
        upgrade(engine, "0003")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE scheduler_instance (x INTEGER)"))
        with pytest.raises(MigrationError, match="from 0003 to head failed"):
            upgrade(engine)
        assert current_revision(engine) == "0003"
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        # SQLite and PostgreSQL roll the whole upgrade back; MariaDB commits each DDL statement.
        assert ("job_lock" in tables) == (kind in ("mysql", "spider"))


def test_an_unreachable_mariadb_says_why() -> None:
    # Real sockets: a port nothing listens on, and a name that never resolves (RFC 6761).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = create_engine_for(f"mysql+pymysql://bridge:s3cret-pw@127.0.0.1:{port}/warehouse")
    with pytest.raises(WarehouseUnavailable) as err:
        current_revision(refused)
    assert str(err.value) == (
        f"cannot open the warehouse: nothing listening at 127.0.0.1:{port} (connection refused)"
    )
    unknown = create_engine_for("mysql+pymysql://bridge:s3cret-pw@warehouse.invalid/warehouse")
    with pytest.raises(WarehouseUnavailable) as err:
        current_revision(unknown)
    assert str(err.value) == "cannot open the warehouse: cannot resolve host warehouse.invalid"
    assert "s3cret-pw" not in str(err.value)


@pytest.mark.spider
def test_fact_ddl_of_a_later_migration_reaches_the_spider_nodes_first(
    request: pytest.FixtureRequest,
) -> None:
    """What a future migration that alters a fact table does on Spider (the migrations' hook,
    etl/migrations/env.py): the column appears on every data node and on the head, and the head
    reads it; without the hook the head alone would have it and every read would fail."""
    url, engine = server_warehouse(request, "spider")
    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", forward_fact_ddl)
        try:
            conn.execute(text("ALTER TABLE fact_order_line ADD COLUMN probe INT NULL"))
            assert conn.execute(text("SELECT COUNT(probe) FROM fact_order_line")).scalar() == 0
            database = str(conn.execute(text("SELECT DATABASE()")).scalar())
            on_nodes = []
            for node in nodes(conn):
                node_engine = create_engine(node.url(database))
                with node_engine.connect() as node_conn:
                    columns = {c["name"] for c in inspect(node_conn).get_columns("fact_order_line")}
                node_engine.dispose()
                on_nodes.append("probe" in columns)
            assert len(on_nodes) >= 2
            assert all(on_nodes)
            conn.execute(text("ALTER TABLE fact_order_line DROP COLUMN probe"))
            # Not a fact table: left alone.
            assert not FACT_DDL.match("ALTER TABLE fact_order_archive ADD x INT")
        finally:
            event.remove(conn, "before_cursor_execute", forward_fact_ddl)
    assert "probe" not in {c["name"] for c in inspect(engine).get_columns("fact_order_line")}
    assert url


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("ALTER TABLE fact_order_line ADD COLUMN probe INT NULL", "fact_order_line"),
        ("CREATE INDEX ix_a ON fact_order (customer_key, status)", "fact_order"),
        ("CREATE UNIQUE INDEX ix_b ON `fact_order_line` (order_key)", "fact_order_line"),
        # Alembic's drop_index on MariaDB: the statement ends at the table's name (migration
        # 0016's DROP INDEX was left to the head alone before the pattern allowed that).
        ("DROP INDEX ix_fact_order_customer_key_ordered_at ON fact_order", "fact_order"),
        ("ALTER TABLE fact_order_archive ADD x INT", None),
        ("CREATE INDEX ix_c ON dim_customer (name)", None),
    ],
)
def test_which_ddl_goes_to_the_spider_nodes(statement: str, table: str | None) -> None:
    found = FACT_DDL.match(statement)
    assert (found.group(1) if found else None) == table


def test_head_read_from_the_files_is_alembics() -> None:
    from etl.db import _alembic_head, _linear_head, _versions_dir

    assert _linear_head(_versions_dir()) == _alembic_head()


def _migration(folder: Path, name: str, revision: str, down: str | None) -> None:
    parent = f'"{down}"' if down else "None"
    (folder / f"{name}.py").write_text(
        f'"""{name}."""\n\nrevision = "{revision}"\ndown_revision: str | None = {parent}\n',
        encoding="utf-8",
    )


def test_head_read_from_the_files_leaves_anything_but_one_chain_to_alembic(
    tmp_path: Path,
) -> None:
    from etl.db import _linear_head

    _migration(tmp_path, "0001_a", "0001", None)
    _migration(tmp_path, "0002_b", "0002", "0001")
    assert _linear_head(tmp_path) == "0002"
    _migration(tmp_path, "0003_c", "0003", "0001")  # a second branch from 0001
    assert _linear_head(tmp_path) is None
    (tmp_path / "0003_c.py").unlink()
    _migration(tmp_path, "0003_c", "0003", "0009")  # a parent that does not exist
    assert _linear_head(tmp_path) is None
    (tmp_path / "0003_c.py").write_text('"""No revision line."""\n', encoding="utf-8")
    assert _linear_head(tmp_path) is None


@pytest.mark.postgres
def test_a_test_database_is_dropped_with_the_sessions_a_failed_test_left_open() -> None:
    databases = fresh_database("postgres")
    url = next(databases)
    left_open = create_engine_for(url).connect()
    left_open.execute(text("SELECT 1"))  # a session in the database, as a failed test leaves
    with pytest.raises(StopIteration):
        next(databases)  # the fixture's teardown: drop_database
    name = make_url(url).database
    base = os.environ["SUGAR_BRIDGE_TEST_POSTGRES_URL"]
    admin = create_engine_for(base)
    with admin.connect() as conn:
        gone = conn.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
    admin.dispose()
    assert gone == 0
    with pytest.raises(OperationalError, match="terminat"):  # ended by the server
        left_open.execute(text("SELECT 1"))
    left_open.invalidate()


#: A statement that runs for many seconds on each engine, and how to see that it is running.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
    " WHERE x < 100000000) SELECT count(*) FROM c",
    "postgres": "SELECT pg_sleep(60)",
    # a nested loop over the Sequence engine's tables, 10^12 rows (SLEEP() and BENCHMARK() just
    # return early when stopped, without an error)
    "mysql": "SELECT COUNT(*) FROM seq_1_to_1000000 a, seq_1_to_1000000 b WHERE a.seq + b.seq = 7",
}
#: How each server shows it executing.
ACTIVE = {
    "postgres": "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
    " AND query LIKE 'SELECT pg_sleep%'",
    "mysql": "SELECT count(*) FROM information_schema.PROCESSLIST"
    " WHERE COMMAND = 'Query' AND INFO LIKE 'SELECT COUNT(*) FROM seq%'",
}


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_statement_running_in_another_thread_is_cancelled(kind: str, tmp_path: Path) -> None:
    for url in scratch_database(kind, tmp_path):
        engine = create_engine_for(url)
        with engine.connect() as conn:
            _cancel_a_slow_statement(kind, engine, conn)
        engine.dispose()


def _cancel_a_slow_statement(kind: str, engine: Engine, conn: Connection) -> None:
    running = threading.Event()
    if kind == "sqlite":  # called from inside the statement: it is running

        def seen_running() -> int:
            running.set()
            return 0  # go on

        conn.connection.dbapi_connection.set_progress_handler(  # type: ignore[union-attr]
            seen_running, 10_000
        )
    with ThreadPoolExecutor(1) as pool:
        statement = pool.submit(conn.exec_driver_sql, SLOW["mysql" if kind == "spider" else kind])
        if kind != "sqlite":
            _wait_until_active(engine, ACTIVE["mysql" if kind == "spider" else kind], running)
        assert running.wait(30)
        started = time.monotonic()
        assert cancel_statement(conn) is True
        with pytest.raises(DBAPIError, match=r"interrupted|cancel"):
            statement.result(timeout=30)
        assert time.monotonic() - started < 20  # not the statement's own end


def _wait_until_active(engine: Engine, query: str, running: threading.Event) -> None:
    """Set ``running`` once the server shows the slow statement executing (``query``)."""
    with engine.connect() as watcher:
        for _ in range(300):
            active = watcher.execute(text(query)).scalar()
            if active:
                running.set()
                return
            time.sleep(0.1)
