package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.micrometer.SmartProxyMetrics;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Proxies;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link PrometheusExample}'s {@code /metrics}, fetched over HTTP after traffic through both of its
 * routes, holds the README's meter names with the values of that traffic; and the README's
 * snippet, as written.
 */
class PrometheusExampleTest {
    private static final String APP = "application=\"smartproxy-example\"";

    /** The samples of a Prometheus text exposition: {@code name{labels}} to value. */
    static Map<String, Double> samples(String text) {
        Map<String, Double> samples = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return samples;
    }

    private static Map<String, Double> scrape(URI uri) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("text/plain"));
        return samples(response.body());
    }

    @Test
    void theMetricsEndpointShowsTheTrafficUnderTheDocumentedNames() throws Exception {
        try (PrometheusExample example = PrometheusExample.start(0)) {
            assertThat(example.echo("hello")).isEqualTo("hello");
            assertThat(example.get("/")).isEqualTo(200);
            assertThat(example.get("/status/201")).isEqualTo(201);
            assertThat(example.get("/status/404")).isEqualTo(404);
            assertThat(example.get("/status/503")).isEqualTo(503);
            Proxies.awaitIdle(example.proxy());

            String twoXx = "smartproxy_http_requests_seconds_count{" + APP + ",route=\"web\",status=\"2xx\"}";
            String echoIn = "smartproxy_route_bytes_total{" + APP + ",direction=\"in\",route=\"echo\"}";
            String accepted = "smartproxy_connections_accepted_total{" + APP + "}";
            Await.until("the scrape shows the traffic", () -> {
                try {
                    Map<String, Double> s = scrape(example.metricsUri());
                    // A backend's meters are registered one after another while a scrape may run:
                    // wait for the last of them (its connect timer), not only for the traffic.
                    return Double.valueOf(2).equals(s.get(twoXx)) && Double.valueOf(5).equals(s.get(accepted))
                            && Double.valueOf(6).equals(s.get(echoIn)) && s.keySet().stream().anyMatch(
                            k -> k.startsWith("smartproxy_backend_connect_seconds_count{" + APP + ",backend=\""));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            Map<String, Double> s = scrape(example.metricsUri());
            assertThat(s).containsEntry("smartproxy_connections_open{" + APP + "}", 0.0)
                    .containsEntry(twoXx, 2.0)
                    .containsEntry("smartproxy_http_requests_seconds_count{" + APP + ",route=\"web\",status=\"4xx\"}", 1.0)
                    .containsEntry("smartproxy_http_requests_seconds_count{" + APP + ",route=\"web\",status=\"5xx\"}", 1.0)
                    .containsEntry(echoIn, 6.0)   // "hello\n"
                    .containsEntry("smartproxy_route_bytes_total{" + APP + ",direction=\"out\",route=\"echo\"}", 6.0)
                    .containsEntry("smartproxy_route_connections_routed_total{" + APP + ",route=\"echo\"}", 1.0)
                    .containsEntry("smartproxy_route_connections_routed_total{" + APP + ",route=\"web\"}", 4.0)
                    .containsEntry("smartproxy_kind_connections_routed_total{" + APP + ",kind=\"PLAIN\"}", 5.0)
                    .containsEntry("smartproxy_kind_connections_open{" + APP + ",kind=\"PLAIN\"}", 0.0)
                    .containsEntry(accepted, 5.0)
                    .containsKey("smartproxy_bytes_total{" + APP + ",direction=\"in\"}")
                    .containsKey("smartproxy_buffered_bytes{" + APP + "}")
                    .containsKey("smartproxy_websocket_connections_open{" + APP + "}");
            assertThat(s.get("smartproxy_http_requests_seconds_sum{" + APP + ",route=\"web\",status=\"2xx\"}"))
                    .isPositive();
            assertThat(s.keySet()).anyMatch(k -> k.startsWith("smartproxy_connections_closed_total{" + APP
                    + ",reason=\""));
            assertThat(s.keySet()).anyMatch(k -> k.startsWith("smartproxy_backend_connect_seconds_count{" + APP
                    + ",backend=\"127.0.0.1:"));
            assertThat(s.keySet()).anyMatch(k -> k.startsWith("smartproxy_throughput_"));
            assertThat(s.keySet()).as("no client address, no path").allSatisfy(k -> assertThat(k)
                    .doesNotContain("/status").satisfiesAnyOf(
                            n -> assertThat(n).doesNotContain("127.0.0.1"),
                            n -> assertThat(n).contains("backend=\"127.0.0.1:")));
        }
    }

    @Test
    void theReadmeSnippetBindsAndScrapes() throws Exception {
        try (SmartProxy proxy = Proxies.start(SmartProxy.builder().route(Route.named("app")
                .match(m -> m.ports(8080)).forward(f -> f.target("127.0.0.1", 1).http())), 8080)) {
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            SmartProxyMetrics metrics = SmartProxyMetrics.builder(proxy)
                .tags(Tags.of("instance", "edge-1"))            // on every meter (default: none)
                .publishPercentileHistogram(true)              // _bucket series of the HTTP timer (default: off)
                .build();
            metrics.bindTo(registry);
            String text = registry.scrape();                   // serve this on GET /metrics
            metrics.close();                                   // removes its meters and its listener
            assertThat(text).contains("smartproxy_connections_open{instance=\"edge-1\"} 0");
            assertThat(registry.scrape()).doesNotContain("smartproxy_");
        }
    }
}
