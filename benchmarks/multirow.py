"""MariaDB/MySQL: PyMySQL's ``executemany`` (rewritten into multi-row INSERTs) against one INSERT
per row, for rows shaped like ``fact_order_line``, 50,000 rows per commit, twice each.

``python -m benchmarks.multirow mysql+pymysql://user:pw@host:port/scratch_db [rows]`` — it creates
and drops a table ``t_rows`` in that database.
"""

from __future__ import annotations

import sys
import time

import pymysql
from sqlalchemy.engine import make_url

from connectors.orders.canonical import DEFAULT_BATCH_LINES

_TABLE = (
    "CREATE TABLE t_rows (order_key BIGINT, line_no INT, product_key BIGINT, "
    "quantity DECIMAL(14,3), unit_price DECIMAL(18,6), discount DECIMAL(18,6), "
    "amount DECIMAL(18,6), PRIMARY KEY (order_key, line_no), KEY (product_key))"
)
_INSERT = (
    "INSERT INTO t_rows (order_key, line_no, product_key, quantity, unit_price, discount, amount) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def main(url: str, n: int = 100_000) -> None:
    """Print the rows/s of both ways."""
    u = make_url(url)
    conn = pymysql.connect(
        host=u.host, port=u.port or 3306, user=u.username, password=u.password, database=u.database
    )
    cur = conn.cursor()
    rows = [
        (i // 3 + 1, i % 3 + 1, i % 500 + 1, "2.000", "12.903333", "0.000000", "25.806666")
        for i in range(n)
    ]
    for many in (True, False, True, False):
        cur.execute("DROP TABLE IF EXISTS t_rows")
        cur.execute(_TABLE)
        conn.commit()
        start = time.perf_counter()
        for s in range(0, n, DEFAULT_BATCH_LINES):  # one commit per ETL batch
            batch = rows[s : s + DEFAULT_BATCH_LINES]
            if many:
                cur.executemany(_INSERT, batch)
            else:
                for row in batch:
                    cur.execute(_INSERT, row)
            conn.commit()
        seconds = time.perf_counter() - start
        label = "executemany (multi-row)" if many else "one INSERT per row"
        print(f"{label:26s} {n:,} rows: {seconds:6.2f} s  {n / seconds:9,.0f} rows/s")
    cur.execute("DROP TABLE IF EXISTS t_rows")
    conn.commit()
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
