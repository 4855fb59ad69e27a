package dev.smartproxy.examples;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's demo runs, routes every client where it should and reports it. */
class DemoTest {
    @Test
    void demoRoutesByNameAndReportsEveryConnection() throws Exception {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        List<ConnectionInfo> closed;
        try (Demo demo = Demo.start(); PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8)) {
            closed = demo.run(out);
            assertThat(demo.proxy().stats().open()).isZero();
        }
        String printed = text.toString(StandardCharsets.UTF_8);
        assertThat(printed).contains("a.test says: hello", "b.test says: hello", "banner: 220 plain backend ready",
                "reply: PONG PING", "unknown.test -> refused by the proxy");
        assertThat(closed).hasSize(5);
        assertThat(closed).filteredOn(c -> c.routeName().equals(java.util.Optional.of("site-b"))).hasSize(2)
                .allSatisfy(c -> assertThat(c.kind()).contains(ConnectionKind.PASSTHROUGH));
        assertThat(closed).filteredOn(c -> c.kind().equals(java.util.Optional.of(ConnectionKind.PLAIN))).hasSize(1);
        ConnectionInfo refused = closed.get(closed.size() - 1);
        assertThat(refused.closeReason()).contains(CloseReason.NO_ROUTE);
        assertThat(refused.bytesFromClient()).as("the ClientHello the proxy read before refusing").isPositive();
    }
}
