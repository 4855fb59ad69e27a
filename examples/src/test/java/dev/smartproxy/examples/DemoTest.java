package dev.smartproxy.examples;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's demo runs, shows the three kinds at work (a terminated HTTPS request and
 * WebSocket, pinged; a passthrough WebSocket, never pinged; passthrough TLS and plain TCP), and
 * reports every connection with its route, kind and close reason.
 */
class DemoTest {
    private static final Pattern PINGS = Pattern.compile(
            "WebSocket, route (\\S+) \\((\\w+)\\)\\s+-> (\\S+) echoes: hi; pinged: client leg (\\d+), backend leg (\\d+)");

    @Test
    void demoShowsTheThreeKindsTheHeartbeatWhereItBelongsAndEveryCloseReason() throws Exception {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        List<ConnectionInfo> closed;
        int tlsPort;
        try (Demo demo = Demo.start(); PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8)) {
            tlsPort = demo.tlsPort();
            closed = demo.run(out);
            assertThat(demo.proxy().stats().open()).isZero();
        }
        String printed = text.toString(StandardCharsets.UTF_8);

        // Passthrough by SNI, plain TCP, and a refused name, as before.
        assertThat(printed).contains("a.test says: hello", "b.test says: hello", "banner: 220 plain backend ready",
                "reply: PONG PING", "unknown.test -> refused by the proxy");
        // The terminated HTTPS request reached the plain backend; X-Forwarded-Host is the Host as sent.
        assertThat(printed).contains("HTTP/1.1 200 OK; hello from web; GET /hello; X-Forwarded-Host: localhost:"
                + tlsPort + "; X-Forwarded-Proto: https");

        // The terminated WebSocket is pinged on both legs; the passthrough one never is.
        Matcher m = PINGS.matcher(printed);
        assertThat(m.find()).as("terminated WebSocket line in:%n%s", printed).isTrue();
        assertThat(List.of(m.group(1), m.group(2), m.group(3))).containsExactly("web", "TERMINATED", "web");
        assertThat(Integer.parseInt(m.group(4))).as("pings on the client leg").isGreaterThanOrEqualTo(2);
        assertThat(Integer.parseInt(m.group(5))).as("pings on the backend leg").isGreaterThanOrEqualTo(2);
        assertThat(m.find()).as("passthrough WebSocket line").isTrue();
        assertThat(List.of(m.group(1), m.group(2), m.group(3)))
                .containsExactly("wss-passthrough", "PASSTHROUGH", "wss-backend");
        assertThat(m.group(4) + "," + m.group(5)).as("pings on the passthrough legs").isEqualTo("0,0");

        // Every connection, with its kind and route, closed with a reason the table prints.
        assertThat(closed).hasSize(8);
        assertThat(closed).filteredOn(c -> c.kind().equals(Optional.of(ConnectionKind.PASSTHROUGH)))
                .extracting(c -> c.routeName().orElseThrow())
                .containsExactlyInAnyOrder("site-a", "site-b", "site-b", "wss-passthrough");
        assertThat(closed).filteredOn(c -> c.kind().equals(Optional.of(ConnectionKind.TERMINATED)))
                .extracting(c -> c.routeName().orElseThrow()).containsExactly("web", "web");
        assertThat(closed).filteredOn(c -> c.kind().equals(Optional.of(ConnectionKind.PLAIN)))
                .extracting(c -> c.routeName().orElseThrow()).containsExactly("plain-tcp");
        ConnectionInfo refused = closed.stream().filter(c -> c.sni().equals(Optional.of("unknown.test")))
                .findFirst().orElseThrow();
        assertThat(refused.routeName()).isEmpty();
        assertThat(refused.closeReason()).contains(CloseReason.NO_ROUTE);
        assertThat(refused.bytesFromClient()).as("the ClientHello the proxy read before refusing").isPositive();
        assertThat(closed).filteredOn(c -> c != refused).allSatisfy(c -> {
            assertThat(c.closeReason().orElseThrow()).as("a peer ended connection %d", c.id())
                    .isIn(CloseReason.CLIENT_CLOSED, CloseReason.BACKEND_CLOSED);
            assertThat(c.bytesFromClient()).isPositive();
            assertThat(c.bytesFromBackend()).isPositive();
        });
        for (ConnectionInfo c : closed) {
            assertThat(printed).containsPattern("(?m)^" + c.id() + "\\s+" + c.routeName().orElse("-") + "\\s+"
                    + c.kind().map(Enum::name).orElse("-") + "\\s+.*" + c.closeReason().orElseThrow().name() + "$");
        }
    }
}
