// The client scenario of tests/clients/scenario.py for node-postgres (`pg`), printed as a
// transcript: create, insert and query with parameters, list metadata, errors with their
// SQLSTATEs leaving the connection usable. tests/clients.rs compares it with PostgreSQL's.
//
// Usage: node scenario.js CONNECTION-STRING (libpq key=value form)

const { Client } = require("pg");

function params(conn) {
  const p = Object.fromEntries(conn.split(/\s+/).map((kv) => kv.split("=", 2)));
  return { host: p.host, port: Number(p.port), user: p.user, database: p.dbname };
}

function out(step, value) {
  console.log(`${step}: ${JSON.stringify(value)}`);
}

async function main() {
  const client = new Client(params(process.argv[2]));
  await client.connect();
  await client.query(
    "CREATE TABLE orders (id int NOT NULL, item text, qty int, price numeric, at timestamp, tags text[])"
  );
  const rows = [
    [1, "apple", 3, "1.50", "2026-01-02 03:04:05", ["red", "fruit"]],
    [2, "pear", 1, "0.75", "2026-01-02 03:05:00", []],
    [3, "apple", 2, null, null, null],
  ];
  for (const r of rows) {
    await client.query("INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6)", r);
  }
  await client.query(
    "CREATE MATERIALIZED VIEW per_item AS SELECT item, sum(qty) AS total FROM orders GROUP BY item"
  );
  const q = await client.query({
    text: "SELECT id, item, qty, price, at::text AS at, tags FROM orders WHERE qty >= $1 ORDER BY id",
    values: [2],
  });
  out("rows", q.rows);
  out("fields", q.fields.map((f) => [f.name, f.dataTypeID]));
  const named = { name: "by_item", text: "SELECT total FROM per_item WHERE item = $1" };
  out("prepared", (await client.query({ ...named, values: ["apple"] })).rows);
  out("prepared again", (await client.query({ ...named, values: ["pear"] })).rows);
  const arrays = await client.query("SELECT ARRAY[1, 2] AS a, '{x,NULL}'::text[] AS b");
  out("arrays", arrays.rows);
  const tables = await client.query(
    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
  );
  out("tables", tables.rows);
  for (const [name, sql] of [
    ["missing relation", "SELECT * FROM missing"],
    ["bad cast", "SELECT 'x'::int"],
    ["syntax", "SELEC 1"],
  ]) {
    try {
      await client.query(sql);
      out(name, "succeeded");
    } catch (e) {
      out(name, e.code);
    }
    out("usable after " + name, (await client.query("SELECT 1 AS one")).rows);
  }
  await client.end();
}

main().catch((e) => {
  console.log(`failed: ${e.stack}`);
  process.exit(1);
});
