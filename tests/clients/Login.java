import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

/** Connects with a password (pgJDBC's own SCRAM client) and prints current_user, or the error's
 *  SQLSTATE and message. Usage: Login HOST PORT USER PASSWORD */
public class Login {
    public static void main(String[] args) {
        Properties props = new Properties();
        props.setProperty("user", args[2]);
        props.setProperty("password", args[3]);
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/materialize";
        try (Connection conn = DriverManager.getConnection(url, props)) {
            ResultSet rs = conn.createStatement().executeQuery("SELECT current_user");
            rs.next();
            System.out.println(rs.getString(1));
        } catch (SQLException e) {
            System.out.println(e.getSQLState() + " " + e.getMessage());
        }
    }
}
