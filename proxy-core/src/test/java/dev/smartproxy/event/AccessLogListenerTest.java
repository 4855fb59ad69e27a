package dev.smartproxy.event;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

class AccessLogListenerTest {
    private static HttpExchange exchange(String method, String host, String path, String route,
                                         InetSocketAddress backend, int status, Duration ttfb) {
        return new HttpExchange(42, new InetSocketAddress("203.0.113.7", 50123), route, backend, method, host, path,
                "HTTP/1.1", status, 512, 1834, Instant.EPOCH, ttfb, Duration.ofNanos(4_900_000), backend == null);
    }

    @Test
    void theDocumentedFormat() {
        assertThat(AccessLogListener.format(exchange("GET", "example.com", "/api/x", "api",
                new InetSocketAddress("10.0.0.5", 8080), 200, Duration.ofMillis(3))))
                .isEqualTo("203.0.113.7 \"GET example.com /api/x HTTP/1.1\" 200 512 1834 route=api "
                        + "backend=10.0.0.5:8080 ttfb_ms=3 total_ms=4 conn=42");
    }

    @Test
    void absentValuesAreADash() {
        assertThat(AccessLogListener.format(exchange("GET", "", "/nowhere", null, null, 404, null)))
                .isEqualTo("203.0.113.7 \"GET - /nowhere HTTP/1.1\" 404 512 1834 route=- backend=- ttfb_ms=- "
                        + "total_ms=4 conn=42");
        assertThat(AccessLogListener.format(exchange("POST", "h", "/x", "api", null, 0, null)))
                .contains("\" 0 512 1834 route=api backend=- ttfb_ms=-");
    }

    @Test
    void anIpv6BackendIsBracketed() {
        assertThat(AccessLogListener.format(exchange("GET", "h", "/", "r", new InetSocketAddress("::1", 8443), 200,
                Duration.ZERO))).contains("backend=[0:0:0:0:0:0:0:1]:8443");
    }

    @Test
    void userControlledFieldsCannotForgeALineOrAField() {
        String line = AccessLogListener.format(exchange("GET", "evil.com\r\n203.0.113.9 \"GET / HTTP/1.1\" 200",
                "/a b\"c\\d\te\u007f\u00e9\u2028", "r o\"ute", null, 200, Duration.ZERO));
        assertThat(line).doesNotContain("\r", "\n", "\t", "\u007f", "\u2028");
        assertThat(line).isEqualTo("203.0.113.7 \"GET evil.com\\x0d\\x0a203.0.113.9\\x20\\\"GET\\x20/\\x20HTTP/1.1\\\""
                + "\\x20200 /a\\x20b\\\"c\\\\d\\x09e\\x7f\\xe9\\u2028 HTTP/1.1\" 200 512 1834 route=r\\x20o\\\"ute "
                + "backend=- ttfb_ms=0 total_ms=4 conn=42");
        // Fields split on spaces: exactly as many as the format has, whatever the client sent.
        assertThat(line.split(" ")).hasSize(13);
    }

    @Test
    void logsThroughTheAccessLogger() {
        assertThat(AccessLogListener.LOGGER_NAME).isEqualTo("dev.smartproxy.access");
        // The listener logs the formatted line at INFO; the test backend (slf4j-simple) prints it.
        new AccessLogListener().onHttpExchange(exchange("GET", "h", "/", "r", null, 200, Duration.ZERO));
    }
}
