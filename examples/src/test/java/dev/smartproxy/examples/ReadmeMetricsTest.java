package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.AccessLogListener;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.metrics.StatusClass;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's "Metrics and events" block, run against one request the proxy answers 502. */
class ReadmeMetricsTest {
    private static final Logger log = LoggerFactory.getLogger(ReadmeMetricsTest.class);

    @Test
    void metricsAndEvents() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0)) {
            deadPort = s.getLocalPort();
        }
        int backendPort = deadPort;
        List<Integer> statuses = new CopyOnWriteArrayList<>();
        try (SmartProxy proxy = SmartProxy.builder()
                .route(Route.named("app").match(m -> m.ports(80)).forward(f -> f.target("127.0.0.1", backendPort).http()))
                .listen(80, new InetSocketAddress("127.0.0.1", 0))
                .gracefulShutdownTimeout(Duration.ofMillis(100)).build().start()) {
            proxy.addListener(new ProxyEventListener() {
                @Override public void onHttpExchange(HttpExchange e) { statuses.add(e.status()); }
            });
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + proxy.boundAddress(80).getPort() + "/")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(502);
            Await.until("the exchange event", () -> !statuses.isEmpty());

            proxy.addListener(new AccessLogListener());   // one line per HTTP exchange, logger dev.smartproxy.access
            proxy.addListener(new ProxyEventListener() {
                @Override public void onBackendConnected(ConnectionInfo c, InetSocketAddress backend, Duration took) {
                    log.debug("{} connected to {} in {}", c.id(), backend, took);
                }
            });
            ProxyMetrics m = proxy.metrics();             // a snapshot; cheap enough to take every second
            double inPerSecond = m.bytesIn().last10Seconds();
            long serverErrors = m.httpByRoute().get("app").responses(StatusClass.SERVER_ERROR);
            Duration p99 = m.httpByRoute().get("app").latency().percentile(0.99);

            assertThat(statuses).containsExactly(502);
            assertThat(inPerSecond).isNotNegative();
            assertThat(serverErrors).isEqualTo(1);
            assertThat(p99).isPositive();
            assertThat(m.byBackend().get("127.0.0.1:" + backendPort).connectFailures()).isEqualTo(1);
        }
    }
}
