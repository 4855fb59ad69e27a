package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.EffectivePolicies;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.metrics.MetricsRecorder;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.metrics.HttpMetrics;
import dev.smartproxy.metrics.ProxyMetrics;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A route update forgets what churned route names leave behind: the metric counters of removed
 * routes no open connection uses, their HTTP counters, the counters of backends no route targets
 * and that have no open connection, and backend TLS contexts no route uses; totals never go down.
 */
class RouteUpdateForgetsTest {
    private ProxyServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.shutdown(Duration.ZERO);
        }
    }

    private static Route tcp(String name, int port, String host) {
        return Route.named(name).match(m -> m.ports(port)).forward(f -> f.target(host, 1)).build();
    }

    @Test
    void removedNamesLeaveNoCountersBehindButTotalsStay() {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        Map<Integer, InetSocketAddress> binds = Map.of(1, InetSocketAddress.createUnresolved("forget-proxy", 1));
        ProxyContext px = new ProxyContext(RouteTable.of(List.of(tcp("kept", 1, "keep.host"),
                tcp("gone", 1, "gone.host"), tcp("busy", 1, "gone.host"))), ConnectionPolicy.builder().build(),
                registry, Transport.local());
        server = ProxyServer.start(px, 1, binds);
        RouteUpdater updater = new RouteUpdater(px, server, binds);
        MetricsRecorder m = registry.telemetry().metrics();

        // A closed connection of "gone", an open one of "busy"; exchanges and backends of each.
        ManagedConnection closed = registry.register(1, new InetSocketAddress("127.0.0.1", 40000));
        registry.routed(closed, ConnectionKind.PLAIN, "gone", null,
                EffectivePolicies.of(px.policy(), RoutePolicy.none(), ConnectionKind.PLAIN),
                (task, nanos) -> () -> { }, reason -> { });
        closed.readFromClient(70);
        registry.closed(closed);
        ManagedConnection busy = registry.register(1, new InetSocketAddress("127.0.0.1", 40001));
        registry.routed(busy, ConnectionKind.PLAIN, "busy", null,
                EffectivePolicies.of(px.policy(), RoutePolicy.none(), ConnectionKind.PLAIN),
                (task, nanos) -> () -> { }, reason -> { });
        m.route("kept").routed();
        m.http("gone").record(200, 1_000_000);
        m.http("kept").record(200, 1_000_000);
        m.http(HttpMetrics.NO_ROUTE).record(404, 1_000_000);
        m.backend("gone.host:1").connected(1_000);
        m.backend("gone.host:1").closed();
        m.backend("gone.host:2").connected(1_000); // still open: kept
        m.backend("keep.host:1").connected(1_000);
        m.backend("keep.host:1").closed();
        BackendTls unused = BackendTls.systemTrust().sni("unused.test");
        px.backendContext(unused);
        assertThat(px.backendContextKeys()).containsExactly(unused);

        updater.apply(RouteTable.of(List.of(tcp("kept", 1, "keep.host"))), binds);

        ProxyMetrics after = registry.telemetry().snapshot(Instant.now(), 0);
        assertThat(after.byRoute().keySet()).containsExactlyInAnyOrder("kept", "busy");
        assertThat(after.httpByRoute().keySet()).containsExactlyInAnyOrder("kept", HttpMetrics.NO_ROUTE);
        assertThat(after.byBackend().keySet()).containsExactlyInAnyOrder("keep.host:1", "gone.host:2");
        assertThat(after.bytesIn().total()).as("the proxy-wide total keeps what removed routes moved")
                .isEqualTo(70);
        assertThat(px.backendContextKeys()).isEmpty();

        // Once the busy connection is gone, the next update forgets its route too.
        registry.closed(busy);
        updater.apply(RouteTable.of(List.of(tcp("kept", 1, "keep.host"), tcp("new", 1, "keep.host"))), binds);
        assertThat(registry.telemetry().snapshot(Instant.now(), 0).byRoute().keySet()).containsExactly("kept");
    }
}
