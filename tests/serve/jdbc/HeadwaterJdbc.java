import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.Properties;

import org.postgresql.PGStatement;

/**
 * A BI tool's view of Headwater through Debian's PostgreSQL JDBC driver: it signs in with a
 * password, browses the tables through DatabaseMetaData, and reads rows of every type through
 * a prepared statement with parameters, run more often than the driver's prepareThreshold (5)
 * so that it switches to a server-prepared statement and binary results. It prints what it
 * sees, one fact a line, for tests/serve/test_jdbc.py to compare exactly.
 *
 * Arguments: JDBC URL, user, password.
 */
public final class HeadwaterJdbc {
    private static final String QUERY =
        "select * from marts.orders where id >= ? and amount > ? and (placed is null or placed > ?)"
            + " and customer is distinct from ? order by id";
    private static final int RUNS = 7;

    private HeadwaterJdbc() {}

    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        properties.setProperty("user", args[1]);
        properties.setProperty("password", args[2]);
        try (Connection connection = DriverManager.getConnection(args[0], properties)) {
            DatabaseMetaData meta = connection.getMetaData();
            System.out.println("product " + meta.getDatabaseProductName() + " "
                + meta.getDatabaseProductVersion());
            System.out.println("user " + meta.getUserName());
            try (ResultSet schemas = meta.getSchemas()) {
                while (schemas.next()) {
                    System.out.println("schema " + schemas.getString("TABLE_SCHEM"));
                }
            }
            try (ResultSet tables = meta.getTables(null, null, "%", new String[] {"TABLE", "VIEW"})) {
                while (tables.next()) {
                    System.out.println("table " + tables.getString("TABLE_SCHEM") + "."
                        + tables.getString("TABLE_NAME") + " " + tables.getString("TABLE_TYPE")
                        + " remarks=" + tables.getString("REMARKS"));
                }
            }
            try (ResultSet columns = meta.getColumns(null, "marts", "orders", "%")) {
                while (columns.next()) {
                    System.out.println("column " + columns.getInt("ORDINAL_POSITION") + " "
                        + columns.getString("COLUMN_NAME") + " " + columns.getString("TYPE_NAME")
                        + " sqltype=" + columns.getInt("DATA_TYPE")
                        + " size=" + columns.getInt("COLUMN_SIZE")
                        + " digits=" + columns.getInt("DECIMAL_DIGITS")
                        + " nullable=" + columns.getString("IS_NULLABLE")
                        + " remarks=" + columns.getString("REMARKS"));
                }
            }
            try (ResultSet keys = meta.getPrimaryKeys(null, "marts", "orders")) {
                while (keys.next()) {
                    System.out.println("key " + keys.getString("COLUMN_NAME") + " "
                        + keys.getInt("KEY_SEQ") + " " + keys.getString("PK_NAME"));
                }
            }
            readRows(connection);
            dateParameter(connection);
        } catch (SQLException error) {
            System.out.println("error " + error.getSQLState() + " " + error.getMessage());
        }
    }

    private static void readRows(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(QUERY)) {
            for (int run = 1; run <= RUNS; run++) {
                statement.setLong(1, 1L);
                statement.setBigDecimal(2, new BigDecimal("-100.00"));
                statement.setObject(3, LocalDate.of(1990, 1, 1));
                statement.setString(4, "nobody");
                try (ResultSet rows = statement.executeQuery()) {
                    if (run == 1) {
                        describe(rows.getMetaData());
                    }
                    boolean server = statement.unwrap(PGStatement.class).isUseServerPrepare();
                    while (rows.next()) {
                        System.out.println("run " + run + " " + row(rows));
                    }
                    System.out.println("run " + run + " server_prepared=" + server);
                }
            }
        }
    }

    /** A date parameter as setDate sends it (text with a zone, of no declared type). */
    private static void dateParameter(Connection connection) throws SQLException {
        String sql = "select count(*) from marts.orders where placed > ?";
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            statement.setDate(1, Date.valueOf("2000-01-01"));
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                System.out.println("placed_after_2000 " + rows.getLong(1));
            }
        } catch (SQLException error) {
            System.out.println("placed_after_2000 error " + error.getSQLState());
        }
    }

    private static void describe(ResultSetMetaData meta) throws SQLException {
        for (int i = 1; i <= meta.getColumnCount(); i++) {
            System.out.println("result " + meta.getColumnName(i) + " " + meta.getColumnTypeName(i)
                + " precision=" + meta.getPrecision(i) + " scale=" + meta.getScale(i)
                + " class=" + meta.getColumnClassName(i));
        }
    }

    private static String row(ResultSet rows) throws SQLException {
        StringBuilder line = new StringBuilder();
        line.append("id=").append(rows.getLong("id"));
        BigDecimal amount = rows.getBigDecimal("amount");
        line.append(" amount=").append(amount).append(" scale=").append(amount.scale());
        line.append(" placed=").append(rows.getDate("placed"));
        line.append(" placed_at=").append(rows.getTimestamp("placed_at"));
        line.append(" paid_at=").append(rows.getObject("paid_at", OffsetDateTime.class));
        boolean shipped = rows.getBoolean("shipped");
        line.append(" shipped=").append(rows.wasNull() ? "null" : String.valueOf(shipped));
        line.append(" customer=").append(rows.getString("customer"));
        double weight = rows.getDouble("weight");
        line.append(" weight=").append(rows.wasNull() ? "null" : String.valueOf(weight));
        line.append(" quantity=").append(rows.getObject("quantity"));
        line.append(" tags=").append(rows.getString("tags"));
        Array tags = rows.getArray("tags");
        line.append(" tag_list=")
            .append(tags == null ? "null" : Arrays.toString((Object[]) tags.getArray()));
        line.append(" priority=").append(rows.getObject("priority"));
        return line.toString();
    }
}
