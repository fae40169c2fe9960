import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Lists the tables of the metrics schema through DatabaseMetaData, then runs each query given
 * after the credentials, once as a Statement and once as a PreparedStatement, printing every
 * row as "row <query number> <column>=<value> ...".
 */
public class MetricsJdbc {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("sslmode", "disable");
        try (Connection connection = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData meta = connection.getMetaData();
            try (ResultSet tables = meta.getTables(null, "metrics", "%", null)) {
                while (tables.next()) {
                    System.out.println("table " + tables.getString("TABLE_SCHEM") + "."
                        + tables.getString("TABLE_NAME"));
                }
            }
            for (int i = 3; i < args.length; i++) {
                try (Statement statement = connection.createStatement();
                     ResultSet rows = statement.executeQuery(args[i])) {
                    print("row " + (i - 2), rows);
                } catch (SQLException e) {
                    System.out.println("error " + e.getSQLState() + " " + e.getMessage());
                }
                try (PreparedStatement prepared = connection.prepareStatement(args[i]);
                     ResultSet rows = prepared.executeQuery()) {
                    print("prepared " + (i - 2), rows);
                } catch (SQLException e) {
                    System.out.println("error " + e.getSQLState() + " " + e.getMessage());
                }
            }
        }
    }

    private static void print(String label, ResultSet rows) throws SQLException {
        ResultSetMetaData columns = rows.getMetaData();
        while (rows.next()) {
            StringBuilder line = new StringBuilder(label);
            for (int c = 1; c <= columns.getColumnCount(); c++) {
                line.append(' ').append(columns.getColumnLabel(c)).append('=')
                    .append(rows.getString(c));
            }
            System.out.println(line);
        }
    }
}
