"""One client scenario against a Postgres-protocol server, printed as a transcript.

Usage: scenario.py DRIVER DSN

DRIVER is psycopg (3), psycopg2, sqlalchemy or asyncpg. DSN is a libpq connection string whose
database is fresh. The scenario creates a table, inserts and queries with parameters (text and,
where the driver can, binary), lists and reflects metadata, and sends a bad statement, which must
fail with the right SQLSTATE and leave the connection usable. tests/clients.rs runs it against
Runnel and against PostgreSQL and compares the transcripts.
"""

import asyncio
import datetime
import sys
from decimal import Decimal

SETUP = [
    "CREATE TABLE orders (id int NOT NULL, item text, qty int, price numeric, "
    "at timestamp, tags text[])",
]
ROWS = [
    (1, "apple", 3, Decimal("1.50"), datetime.datetime(2026, 1, 2, 3, 4, 5), ["red", "fruit"]),
    (2, "pear", 1, Decimal("0.75"), datetime.datetime(2026, 1, 2, 3, 5, 0), []),
    (3, "apple", 2, None, None, None),
]
AFTER = [
    "CREATE VIEW big AS SELECT id, item FROM orders WHERE qty > 1",
    "CREATE MATERIALIZED VIEW per_item AS SELECT item, sum(qty) AS total FROM orders GROUP BY item",
    "CREATE INDEX per_item_idx ON per_item (item)",
]
QUERY = "SELECT id, item, qty, price, at, tags FROM orders WHERE qty >= {p} ORDER BY id"
TABLES = (
    "SELECT table_name, table_type FROM information_schema.tables "
    "WHERE table_schema = 'public' ORDER BY table_name"
)
COLUMNS = (
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_name = 'orders' ORDER BY ordinal_position"
)
BAD = [
    ("missing relation", "SELECT * FROM missing"),
    ("bad cast", "SELECT 'x'::int"),
    ("syntax", "SELEC 1"),
]


def out(step, value):
    print(f"{step}: {value!r}")


def dbapi(module, dsn, binary):
    """psycopg (3) and psycopg2 share the DB-API shape."""
    conn = module.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    for sql in SETUP:
        cur.execute(sql)
    cur.executemany(
        "INSERT INTO orders VALUES (%s, %s, %s, %s, %s, %s)", ROWS
    )
    for sql in AFTER:
        cur.execute(sql)
    cur.execute(QUERY.format(p="%s"), (2,))
    out("text rows", cur.fetchall())
    out("columns", [d[0] for d in cur.description])
    if binary:
        bcur = conn.cursor(binary=True)
        bcur.execute(QUERY.format(p="%s"), (1,))
        out("binary rows", bcur.fetchall())
    cur.execute("SELECT item, total FROM per_item WHERE item = %s", ("apple",))
    out("view", cur.fetchall())
    cur.execute(TABLES)
    out("tables", cur.fetchall())
    cur.execute(COLUMNS)
    out("columns of orders", cur.fetchall())
    for name, sql in BAD:
        try:
            cur.execute(sql)
            out(name, "succeeded")
        except module.Error as e:
            code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
            out(name, code)
        cur.execute("SELECT 1")
        out("usable after " + name, cur.fetchall())
    # Inside a transaction, an error fails it until ROLLBACK, as in Postgres.
    conn.autocommit = False
    try:
        cur.execute("SELECT 1/0")
    except module.Error as e:
        out("division by zero", getattr(e, "sqlstate", None) or getattr(e, "pgcode", None))
    try:
        cur.execute("SELECT 1")
        out("in failed transaction", "succeeded")
    except module.Error as e:
        out("in failed transaction", getattr(e, "sqlstate", None) or getattr(e, "pgcode", None))
    conn.rollback()
    cur.execute("SELECT count(*) FROM orders")
    out("after rollback", cur.fetchall())
    conn.close()


def sqlalchemy(dsn):
    import sqlalchemy as sa

    params = dict(p.split("=", 1) for p in dsn.split())
    url = sa.engine.URL.create(
        "postgresql+psycopg",
        username=params.get("user"),
        password=params.get("password"),
        host=params.get("host"),
        port=int(params["port"]),
        database=params.get("dbname"),
    )
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for sql in SETUP:
            conn.execute(sa.text(sql))
        conn.execute(
            sa.text("INSERT INTO orders VALUES (:id, :item, :qty, :price, :at, :tags)"),
            [dict(zip(["id", "item", "qty", "price", "at", "tags"], r)) for r in ROWS],
        )
        for sql in AFTER:
            conn.execute(sa.text(sql))
        rows = conn.execute(sa.text(QUERY.format(p=":p")), {"p": 2}).fetchall()
        out("rows", [tuple(r) for r in rows])
    inspector = sa.inspect(engine)
    out("table names", inspector.get_table_names())
    out("view names", inspector.get_view_names())
    out("materialized view names", inspector.get_materialized_view_names())
    out(
        "columns",
        [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("orders")],
    )
    out("primary key", inspector.get_pk_constraint("orders"))
    out("indexes", inspector.get_indexes("per_item"))
    table = sa.Table("orders", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        q = sa.select(table.c.item, sa.func.count()).group_by(table.c.item).order_by(table.c.item)
        out("reflected query", [tuple(r) for r in conn.execute(q)])
        try:
            conn.execute(sa.text("SELECT * FROM missing"))
        except sa.exc.DBAPIError as e:
            out("missing relation", e.orig.sqlstate)
        out("usable", conn.execute(sa.text("SELECT 1")).scalar())


async def asyncpg_scenario(dsn):
    import asyncpg

    params = dict(p.split("=", 1) for p in dsn.split())
    conn = await asyncpg.connect(
        host=params.get("host"),
        port=int(params["port"]),
        user=params.get("user"),
        database=params.get("dbname"),
    )
    for sql in SETUP:
        await conn.execute(sql)
    await conn.executemany("INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6)", ROWS)
    for sql in AFTER:
        await conn.execute(sql)
    stmt = await conn.prepare(QUERY.format(p="$1"))
    out("parameter types", [t.name for t in stmt.get_parameters()])
    out("result types", [(a.name, a.type.name) for a in stmt.get_attributes()])
    out("rows", [tuple(r) for r in await stmt.fetch(2)])
    out("rows again", [tuple(r) for r in await stmt.fetch(1)])
    out("view", await conn.fetchval("SELECT total FROM per_item WHERE item = $1", "apple"))
    out("tables", [tuple(r) for r in await conn.fetch(TABLES)])
    try:
        await conn.execute("SELECT * FROM missing")
    except asyncpg.PostgresError as e:
        out("missing relation", e.sqlstate)
    out("usable", await conn.fetchval("SELECT 1"))
    await conn.close()


def main():
    driver, dsn = sys.argv[1], sys.argv[2]
    if driver == "psycopg":
        import psycopg

        dbapi(psycopg, dsn, binary=True)
    elif driver == "psycopg2":
        import psycopg2

        dbapi(psycopg2, dsn, binary=False)
    elif driver == "sqlalchemy":
        sqlalchemy(dsn)
    elif driver == "asyncpg":
        asyncio.run(asyncpg_scenario(dsn))
    else:
        sys.exit(f"unknown driver {driver}")


if __name__ == "__main__":
    main()
