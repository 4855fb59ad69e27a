package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Loopback with a real HAProxy (the Debian package) in front of the proxy, sending the PROXY
 * protocol ({@code send-proxy}, {@code send-proxy-v2}) from 127.0.0.1: clients connect to HAProxy
 * from 127.0.0.2 and 127.0.0.3, and the proxy must see them, not HAProxy, in route
 * {@code clientIps} matching, {@code X-Forwarded-For}, snapshots and events. A proxy that does
 * not trust HAProxy's address refuses its headers.
 */
class HaproxyProxyProtocolTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private Process haproxy;
    private Path haproxyLog;

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        if (haproxy != null) {
            haproxy.destroy();
            if (!haproxy.waitFor(10, TimeUnit.SECONDS)) {
                haproxy.destroyForcibly().waitFor();
            }
        }
        closer.close();
    }

    /** A plain-HTTP proxy on route port 80: clients from {@code allowed} reach the echo backend, the rest are blocked. */
    private SmartProxy proxy(HttpEchoServer echo, String allowed, String trusted) {
        return closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .acceptProxyProtocol(80, trusted)
                .route(Route.named("from-" + allowed).match(m -> m.ports(80).clientIps(allowed))
                        .forward(f -> f.target("127.0.0.1", echo.port()).http()))
                .route(Route.named("others").priority(-1).match(m -> m.ports(80)).block()), 80));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Starts HAProxy in the foreground on a free port, in TCP mode, to {@code proxyPort} with {@code sendProxy}. */
    private int startHaproxy(int proxyPort, String sendProxy) throws Exception {
        int port = freePort();
        Path cfg = dir.resolve("haproxy.cfg");
        Files.writeString(cfg, String.join("\n",
                "global",
                "    maxconn 100",
                "defaults",
                "    mode tcp",
                "    timeout connect 5s",
                "    timeout client 30s",
                "    timeout server 30s",
                "frontend f",
                "    bind 127.0.0.1:" + port,
                "    default_backend b",
                "backend b",
                "    server s 127.0.0.1:" + proxyPort + " " + sendProxy,
                ""));
        haproxyLog = dir.resolve("haproxy.log");
        haproxy = new ProcessBuilder("haproxy", "-f", cfg.toString(), "-db")
                .redirectErrorStream(true).redirectOutput(haproxyLog.toFile()).start();
        Await.until("HAProxy listening on " + port + " (log: " + haproxyLogText() + ")", Duration.ofSeconds(10), () -> {
            if (!haproxy.isAlive()) {
                throw new AssertionError("HAProxy exited: " + haproxyLogText());
            }
            return listening(port);
        });
        return port;
    }

    /**
     * Whether a socket listens on 127.0.0.1:{@code port}, read from /proc/net/tcp: a probe
     * connection would go through HAProxy to the proxy, and probing by binding would race HAProxy's bind.
     */
    private static boolean listening(int port) {
        String local = String.format("0100007F:%04X", port);
        try {
            return Files.readAllLines(Path.of("/proc/net/tcp")).stream().map(String::trim)
                    .map(l -> l.split("\\s+"))
                    .anyMatch(f -> f.length > 3 && f[1].equals(local) && f[3].equals("0A"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private String haproxyLogText() {
        try {
            return haproxyLog == null || !Files.exists(haproxyLog) ? "" : Files.readString(haproxyLog);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** One HTTP/1.1 request through HAProxy from {@code from}; the whole answer (the connection closes after it). */
    private static String get(String from, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(from, 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /who HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\n"
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"send-proxy", "send-proxy-v2"})
    void theRealClientReachesRouteMatchingForwardedForSnapshotsAndEvents(String sendProxy) throws Exception {
        HttpEchoServer echo = closer.keep(new HttpEchoServer("echo"));
        SmartProxy proxy = proxy(echo, "127.0.0.2", "127.0.0.1");
        int front = startHaproxy(Proxies.port(proxy, 80), sendProxy);

        String answer = get("127.0.0.2", front);
        assertThat(answer).startsWith("HTTP/1.1 200").contains("server=echo", "path=/who",
                "x-forwarded-for=127.0.0.2").doesNotContain("6.6.6.6");
        assertThat(echo.requests()).isEqualTo(1);

        String refused = get("127.0.0.3", front);
        assertThat(refused).as("127.0.0.3 matches only the block route").doesNotContain("server=echo");
        assertThat(echo.requests()).isEqualTo(1);

        List<ConnectionInfo> closed = events.awaitClosed(2);
        assertThat(closed).extracting(c -> c.clientAddress().getAddress().getHostAddress())
                .containsExactlyInAnyOrder("127.0.0.2", "127.0.0.3");
        ConnectionInfo fromTwo = closed.stream()
                .filter(c -> c.clientAddress().getAddress().getHostAddress().equals("127.0.0.2")).findFirst().orElseThrow();
        ConnectionInfo fromThree = closed.stream()
                .filter(c -> c.clientAddress().getAddress().getHostAddress().equals("127.0.0.3")).findFirst().orElseThrow();
        assertThat(fromTwo.routeName()).contains("from-127.0.0.2");
        assertThat(fromThree.routeName()).contains("others");
        assertThat(fromThree.closeReason()).contains(CloseReason.BLOCKED);
        assertThat(events.routed()).extracting(c -> c.clientAddress().getAddress().getHostAddress())
                .containsExactlyInAnyOrder("127.0.0.2", "127.0.0.3");
        Proxies.awaitIdle(proxy);
    }

    @Test
    void anUntrustedSendersHeaderIsRefusedAndNothingIsForwarded() throws Exception {
        HttpEchoServer echo = closer.keep(new HttpEchoServer("echo"));
        SmartProxy proxy = proxy(echo, "127.0.0.1", "10.9.9.9"); // HAProxy's 127.0.0.1 is not trusted, but may connect
        int front = startHaproxy(Proxies.port(proxy, 80), "send-proxy-v2");

        String answer = get("127.0.0.2", front);
        assertThat(answer).doesNotContain("server=echo");
        assertThat(events.awaitClosed(1)).singleElement().satisfies(c -> {
            assertThat(c.closeReason()).contains(CloseReason.PROXY_PROTOCOL_UNTRUSTED);
            assertThat(c.clientAddress().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
            assertThat(c.routeName()).isEmpty();
        });
        assertThat(echo.requests()).isZero();
        assertThat(proxy.stats().closed(CloseReason.PROXY_PROTOCOL_UNTRUSTED)).isEqualTo(1);
    }

    @Test
    void aTrustedSenderWithoutAHeaderIsRefused() throws Exception {
        HttpEchoServer echo = closer.keep(new HttpEchoServer("echo"));
        SmartProxy proxy = proxy(echo, "127.0.0.2", "127.0.0.1");
        int front = startHaproxy(Proxies.port(proxy, 80), ""); // no send-proxy

        String answer = get("127.0.0.2", front);
        assertThat(answer).doesNotContain("server=echo");
        assertThat(events.awaitClosed(1)).singleElement()
                .satisfies(c -> assertThat(c.closeReason()).contains(CloseReason.PROXY_PROTOCOL_MISSING));
        assertThat(echo.requests()).isZero();
    }

    @Test
    void limitsAndIpRulesSeeTheRealClientNotTheBalancer() throws Exception {
        HttpEchoServer echo = closer.keep(new HttpEchoServer("echo"));
        SmartProxy proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .acceptProxyProtocol(80, "127.0.0.1")
                .maxConnectionsPerIp(1)
                .ipBlockList("127.0.0.5")
                .route(Route.named("web").match(m -> m.ports(80))
                        .forward(f -> f.target("127.0.0.1", echo.port()).http())), 80));
        int front = startHaproxy(Proxies.port(proxy, 80), "send-proxy-v2");
        // Every connection reaches the proxy from HAProxy's 127.0.0.1: only the header tells them apart.
        try (Socket held = new Socket()) {
            held.bind(new InetSocketAddress("127.0.0.2", 0));
            held.connect(new InetSocketAddress("127.0.0.1", front), 5000);
            held.setSoTimeout(10_000);
            held.getOutputStream().write("GET /held HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            StringBuilder first = new StringBuilder();
            byte[] buf = new byte[4096];
            while (!first.toString().contains("server=echo")) {
                int n = held.getInputStream().read(buf);
                assertThat(n).as("the first client of 127.0.0.2 is served and kept alive").isPositive();
                first.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
            }
            assertThat(get("127.0.0.2", front)).as("a second connection of 127.0.0.2 is over its limit")
                    .doesNotContain("server=echo");
            assertThat(get("127.0.0.4", front)).as("another client behind the same balancer")
                    .contains("server=echo", "x-forwarded-for=127.0.0.4");
            assertThat(get("127.0.0.5", front)).as("a blocked client behind the balancer").doesNotContain("server=echo");
        }
        List<ConnectionInfo> closed = events.awaitClosed(4);
        assertThat(closed).filteredOn(c -> c.closeReason().orElse(null) == CloseReason.IP_CONNECTION_LIMIT)
                .singleElement().satisfies(c -> assertThat(c.clientAddress().getAddress().getHostAddress())
                        .isEqualTo("127.0.0.2"));
        assertThat(closed).filteredOn(c -> c.closeReason().orElse(null) == CloseReason.IP_BLOCKED)
                .singleElement().satisfies(c -> assertThat(c.clientAddress().getAddress().getHostAddress())
                        .isEqualTo("127.0.0.5"));
        Proxies.awaitIdle(proxy);
    }
}
