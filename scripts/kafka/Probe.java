// Exit 0 when the Kafka broker at args[0] answers a metadata request.
// kafka-up.sh runs it (java Probe.java, JDK 11+ source launcher) only when no
// Python with confluent_kafka is at hand.
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;

public class Probe {
    public static void main(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("request.timeout.ms", "3000");
        p.put("default.api.timeout.ms", "3000");
        try (Admin admin = Admin.create(p)) {
            int n = admin.describeCluster().nodes().get(4, TimeUnit.SECONDS).size();
            System.exit(n > 0 ? 0 : 1);
        } catch (Exception e) {
            System.exit(1);
        }
    }
}
