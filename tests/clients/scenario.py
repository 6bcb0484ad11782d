"""One client scenario against a Postgres-protocol server, printed as a transcript.

Usage: scenario.py DRIVER DSN

DRIVER is psycopg (3), psycopg2, sqlalchemy, pandas, asyncpg, pgcli (its completion queries and
its `-c` commands through the real binary) or pyodbc (psqlODBC, Debian's odbc-postgresql). DSN is a libpq connection string whose
database is fresh. The scenario creates a table, inserts and queries with parameters (text and,
where the driver can, binary), lists and reflects metadata, and sends a bad statement, which must
fail with the right SQLSTATE and leave the connection usable. tests/clients.rs runs it against
Runnel and against PostgreSQL and compares the transcripts.
"""

import asyncio
import re
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
    session_commands(conn, cur)
    conn.close()


def session_commands(conn, cur):
    """SQL-level PREPARE/EXECUTE/DEALLOCATE, and settings reported back to the driver after
    SET, RESET ALL and DISCARD ALL (what connection pools send between clients)."""
    conn.rollback()
    conn.autocommit = True

    def status(name):
        info = getattr(conn, "info", None)
        if info is not None and hasattr(info, "parameter_status"):
            return info.parameter_status(name)
        return conn.get_parameter_status(name)

    started = status("TimeZone")
    cur.execute("SET TimeZone = 'Europe/Paris'")
    out("TimeZone after SET", status("TimeZone"))
    cur.execute("RESET ALL")
    out("TimeZone back after RESET ALL", status("TimeZone") == started)
    cur.execute("PREPARE by_item (text) AS SELECT id FROM orders WHERE item = $1 ORDER BY id")
    cur.execute("EXECUTE by_item('apple')")
    out("EXECUTE", cur.fetchall())
    cur.execute("SET DateStyle = 'ISO, DMY'")
    cur.execute("DISCARD ALL")
    out("DateStyle after DISCARD ALL", status("DateStyle"))
    try:
        cur.execute("EXECUTE by_item('pear')")
        out("EXECUTE after DISCARD ALL", cur.fetchall())
    except Exception as e:
        out("EXECUTE after DISCARD ALL", getattr(e, "sqlstate", None) or getattr(e, "pgcode", None))


def fields(dsn):
    return dict(p.split("=", 1) for p in dsn.split())


def engine(dsn):
    import sqlalchemy as sa

    params = fields(dsn)
    url = sa.engine.URL.create(
        "postgresql+psycopg",
        username=params.get("user"),
        password=params.get("password"),
        host=params.get("host"),
        port=int(params["port"]),
        database=params.get("dbname"),
    )
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def sqlalchemy(dsn):
    import sqlalchemy as sa

    engine_ = engine(dsn)
    with engine_.connect() as conn:
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
    inspector = sa.inspect(engine_)
    out("table names", inspector.get_table_names())
    out("view names", inspector.get_view_names())
    out("materialized view names", inspector.get_materialized_view_names())
    out(
        "columns",
        [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("orders")],
    )
    out("primary key", inspector.get_pk_constraint("orders"))
    out("indexes", inspector.get_indexes("per_item"))
    table = sa.Table("orders", sa.MetaData(), autoload_with=engine_)
    with engine_.connect() as conn:
        q = sa.select(table.c.item, sa.func.count()).group_by(table.c.item).order_by(table.c.item)
        out("reflected query", [tuple(r) for r in conn.execute(q)])
        try:
            conn.execute(sa.text("SELECT * FROM missing"))
        except sa.exc.DBAPIError as e:
            out("missing relation", e.orig.sqlstate)
        out("usable", conn.execute(sa.text("SELECT 1")).scalar())


def pandas_scenario(dsn):
    """What analysts do: a DataFrame written with to_sql, read back with read_sql."""
    import pandas as pd
    import sqlalchemy as sa

    engine_ = engine(dsn)
    frame = pd.DataFrame(
        {
            "id": [r[0] for r in ROWS],
            "item": [r[1] for r in ROWS],
            "qty": [r[2] for r in ROWS],
            "price": [None if r[3] is None else float(r[3]) for r in ROWS],
            "at": pd.to_datetime([r[4] for r in ROWS]),
        }
    )
    out("to_sql", frame.to_sql("orders", engine_, index=False))
    with engine_.connect() as conn:
        for sql in AFTER:
            conn.execute(sa.text(sql))
    query = "SELECT id, item, qty, price, at FROM orders WHERE qty >= {p} ORDER BY id"
    df = pd.read_sql(sa.text(query.format(p=":p")), engine_, params={"p": 2})
    out("read_sql", df.to_csv(index=False))
    out("dtypes", {c: str(t) for c, t in df.dtypes.items()})
    out("read_sql_table", pd.read_sql_table("per_item", engine_).sort_values("item").to_csv(index=False))
    out("read_sql_query", pd.read_sql_query(TABLES, engine_).to_csv(index=False))
    try:
        pd.read_sql("SELECT * FROM missing", engine_)
    except pd.errors.DatabaseError as e:
        out("missing relation", e.__cause__.orig.sqlstate)
    out("usable", pd.read_sql("SELECT 1 AS one", engine_).to_csv(index=False))


def pgcli_scenario(dsn):
    """pgcli's executor: the catalog queries behind its completions, its special commands,
    then the real binary with -c."""
    import os
    import subprocess
    import tempfile

    import psycopg
    from pgcli.pgexecute import PGExecute
    from pgspecial.main import PGSpecial

    params = fields(dsn)
    ex = PGExecute(
        database=params["dbname"], user=params["user"], password=params.get("password"),
        host=params["host"], port=params["port"], dsn=None,
    )
    special = PGSpecial()
    # Objects are owned by the user who made them in PostgreSQL, by `materialize` in Runnel.
    owned = lambda v: str(v).replace(params["user"], "USER")  # noqa: E731

    def run(sql):
        rows = []
        for title, cur, headers, status, *_ in ex.run(sql, pgspecial=special):
            rows.append((title, list(cur) if cur is not None else None, headers, status))
        return rows

    for sql in SETUP + AFTER[:1]:
        run(sql)
    run("INSERT INTO orders (id, item, qty) VALUES (1, 'apple', 3), (2, 'pear', 1)")
    out("query", run("SELECT id, item FROM orders WHERE qty >= 1 ORDER BY id"))
    out("search path", ex.search_path())
    out("schemata", sorted(s for s in ex.schemata() if not s.startswith("pg_")))
    # Completions list the system catalogs too; which exist differs, so only ours are compared.
    ours = lambda rows: [r for r in rows if r[0] == "public"]  # noqa: E731
    out("tables", ours(ex.tables()))
    out("views", ours(ex.views()))
    out("table columns", ours(ex.table_columns()))
    out("view columns", ours(ex.view_columns()))
    out("datatypes", list(ex.datatypes()))
    out("foreign keys", list(ex.foreignkeys()))
    out("functions", [f for f in ex.functions() if f.schema_name == "public"])
    out("databases", params["dbname"] in ex.databases())
    out("view definition", ex.view_definition("big").strip().splitlines()[0])
    out("\\dt", owned(run("\\dt")))
    out("\\dv", owned(run("\\dv")))
    out("\\d orders", run("\\d orders"))
    try:
        run("SELECT * FROM missing")
    except psycopg.Error as e:
        out("missing relation", e.sqlstate)
    out("usable", run("SELECT 1"))

    # The binary itself, with a clean home so no user configuration applies but one setting:
    # the session keeps the server's time zone (else pgcli sets the machine's, and says so).
    with tempfile.TemporaryDirectory() as home:
        os.makedirs(os.path.join(home, "pgcli"))
        with open(os.path.join(home, "pgcli", "config"), "w") as f:
            f.write("[main]\nuse_local_timezone = False\n")
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, PGPASSWORD=params.get("password", ""))
        pgcli = os.path.join(os.path.dirname(sys.executable), "pgcli")
        done = subprocess.run(
            [pgcli, "-h", params["host"], "-p", params["port"], "-U", params["user"],
             params["dbname"], "--less-chatty", "-c", "SELECT item, qty FROM orders ORDER BY id",
             "-c", "\\d orders", "-c", "SELECT * FROM missing"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        timings = re.compile(r"^Time: .*\n", re.M)
        out("pgcli -c", timings.sub("", done.stdout))


def odbc_scenario(dsn):
    """psqlODBC (what Tableau and Power BI use on Linux and Windows) through pyodbc."""
    import pyodbc

    params = fields(dsn)
    conn = pyodbc.connect(
        "DRIVER={PostgreSQL Unicode};"
        f"SERVER={params['host']};PORT={params['port']};DATABASE={params['dbname']};"
        f"UID={params['user']};PWD={params.get('password', '')};",
        autocommit=True,
    )
    cur = conn.cursor()
    for sql in SETUP:
        cur.execute(sql.replace(", tags text[]", ""))
    cur.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", [r[:5] for r in ROWS])
    for sql in AFTER:
        cur.execute(sql)
    cur.execute("SELECT id, item, qty, price, at FROM orders WHERE qty >= ? ORDER BY id", 2)
    out("rows", [tuple(r) for r in cur.fetchall()])
    out("description", [(d[0], d[1].__name__) for d in cur.description])
    out("tables", [(t.table_name, t.table_type) for t in cur.tables(schema="public")])
    out(
        "columns",
        [(c.column_name, c.type_name, c.nullable) for c in cur.columns(table="orders")],
    )
    out("primary keys", [tuple(k) for k in cur.primaryKeys("orders")])
    out("statistics", [(s.index_name, s.column_name) for s in cur.statistics("per_item") if s.index_name])
    try:
        cur.execute("SELECT * FROM missing")
    except pyodbc.Error as e:
        out("missing relation", e.args[0])
    cur.execute("SELECT 1")
    out("usable", cur.fetchall()[0][0])
    conn.close()


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
    elif driver == "pandas":
        pandas_scenario(dsn)
    elif driver == "pgcli":
        pgcli_scenario(dsn)
    elif driver == "pyodbc":
        odbc_scenario(dsn)
    elif driver == "asyncpg":
        asyncio.run(asyncpg_scenario(dsn))
    else:
        sys.exit(f"unknown driver {driver}")


if __name__ == "__main__":
    main()
