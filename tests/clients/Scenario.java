// The client scenario of tests/clients/scenario.py for pgJDBC, the driver DBeaver, Metabase and
// Tableau build on, printed as a transcript: create, insert and query with parameters, the
// DatabaseMetaData calls tools list tables and columns with, and errors with their SQLSTATEs
// leaving the connection usable. tests/clients.rs compares it with PostgreSQL's.
//
// Usage: java -cp postgresql.jar Scenario.java HOST PORT USER DATABASE

import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class Scenario {
    static void out(String step, Object value) {
        System.out.println(step + ": " + value);
    }

    static List<List<String>> rows(ResultSet rs, String... columns) throws SQLException {
        List<List<String>> out = new ArrayList<>();
        while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (String c : columns) row.add(rs.getString(c));
            out.add(row);
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[3];
        Properties props = new Properties();
        props.setProperty("user", args[2]);
        try (Connection conn = DriverManager.getConnection(url, props)) {
            Statement st = conn.createStatement();
            st.execute("CREATE TABLE orders (id int NOT NULL, item text, qty int, price numeric, at timestamp)");
            PreparedStatement ins = conn.prepareStatement("INSERT INTO orders VALUES (?, ?, ?, ?, ?)");
            Object[][] data = {
                {1, "apple", 3, new BigDecimal("1.50"), Timestamp.valueOf("2026-01-02 03:04:05")},
                {2, "pear", 1, new BigDecimal("0.75"), Timestamp.valueOf("2026-01-02 03:05:00")},
                {3, "apple", 2, null, null},
            };
            for (Object[] r : data) {
                ins.setInt(1, (Integer) r[0]);
                ins.setString(2, (String) r[1]);
                ins.setInt(3, (Integer) r[2]);
                ins.setBigDecimal(4, (BigDecimal) r[3]);
                ins.setTimestamp(5, (Timestamp) r[4]);
                ins.executeUpdate();
            }
            st.execute("CREATE VIEW big AS SELECT id, item FROM orders WHERE qty > 1");
            st.execute("CREATE MATERIALIZED VIEW per_item AS SELECT item, sum(qty) AS total FROM orders GROUP BY item");
            st.execute("CREATE INDEX per_item_idx ON per_item (item)");
            // Prepared five times over: pgJDBC switches to a named server-side statement.
            PreparedStatement q = conn.prepareStatement("SELECT id, item, price, at FROM orders WHERE qty >= ? ORDER BY id");
            for (int i = 0; i < 6; i++) {
                q.setInt(1, i % 3 + 1);
                ResultSet rs = q.executeQuery();
                out("rows " + i, rows(rs, "id", "item", "price", "at"));
            }
            DatabaseMetaData md = conn.getMetaData();
            out("tables", rows(md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"}),
                    "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE"));
            out("columns", rows(md.getColumns(null, "public", "orders", "%"),
                    "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "NULLABLE", "ORDINAL_POSITION"));
            // Reads information_schema._pg_expandarray(i.indkey), a function returning records.
            out("primary keys", rows(md.getPrimaryKeys(null, "public", "orders"),
                    "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME"));
            out("index info", rows(md.getIndexInfo(null, "public", "per_item", false, false),
                    "TABLE_NAME", "INDEX_NAME", "COLUMN_NAME", "ORDINAL_POSITION"));
            out("schemas", rows(md.getSchemas(), "TABLE_SCHEM"));
            for (String[] bad : new String[][] {
                    {"missing relation", "SELECT * FROM missing"},
                    {"bad cast", "SELECT 'x'::int"},
                    {"syntax", "SELEC 1"}}) {
                try {
                    st.executeQuery(bad[1]);
                    out(bad[0], "succeeded");
                } catch (SQLException e) {
                    out(bad[0], e.getSQLState());
                }
                out("usable after " + bad[0], rows(st.executeQuery("SELECT 1 AS one"), "one"));
            }
        }
    }
}
