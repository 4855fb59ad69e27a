package dev.smartproxy.internal.connection;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.metrics.MetricsRecorder;
import dev.smartproxy.internal.metrics.OpenTotals;
import dev.smartproxy.metrics.RouteMetrics;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The byte totals when a connection closes while they are read: the closed totals are read
 * before the walk of the open connections, and the walk skips finished ones, so a connection is
 * never counted twice (at worst missed for one reading). Driven step by step, no threads.
 */
class TelemetryTotalsTest {
    private final ManualClock clock = new ManualClock();
    private final ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), clock);
    private final Telemetry telemetry = registry.telemetry();
    private final MetricsRecorder metrics = telemetry.metrics();

    private ManagedConnection open(int in, int out) {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        registry.routed(c, ConnectionKind.PASSTHROUGH, "r", null,
                EffectivePolicies.of(ConnectionPolicy.defaults(), RoutePolicy.none(), ConnectionKind.PASSTHROUGH),
                clock, reason -> registry.closed(c));
        c.readFromClient(in);
        c.wroteToClient(out);
        return c;
    }

    @Test
    void aConnectionClosingAfterTheWalkCountedItIsNotCountedAgain() {
        ManagedConnection a = open(100, 10);
        open(1000, 1);
        OpenTotals t = metrics.openTotals(); // the closed totals: none yet
        telemetry.addOpen(t, null);          // the walk sees a open
        registry.closed(a);                  // a closes before the totals are used
        assertThat(metrics.bytesIn(t).total()).isEqualTo(1100);
        assertThat(metrics.bytesOut(t).total()).isEqualTo(11);
        RouteMetrics r = metrics.byRoute(t).get("r");
        assertThat(r.bytesIn().total()).isEqualTo(1100);
        assertThat(r.bytesOut().total()).isEqualTo(11);
        // The next reading has a in the closed totals only.
        assertThat(metrics.bytesIn(telemetry.openTotals(null)).total()).isEqualTo(1100);
    }

    @Test
    void aConnectionClosingBetweenTheTwoReadsIsMissedOnceNeverCountedTwice() {
        ManagedConnection a = open(100, 10);
        open(1000, 1);
        OpenTotals t = metrics.openTotals(); // closed totals read: a not among them
        registry.closed(a);                  // a closes: finished, counted closed, leaves the open set
        telemetry.addOpen(t, null);
        assertThat(metrics.bytesIn(t).total()).isEqualTo(1000); // missed for this one reading
        assertThat(metrics.bytesIn(telemetry.openTotals(null)).total()).isEqualTo(1100);
    }

    @Test
    void theWalkSkipsAConnectionFinishedButStillInTheOpenSet() {
        ManagedConnection a = open(100, 10);
        open(1000, 1);
        OpenTotals t = metrics.openTotals();
        // As registry.closed does first: a is finished while still in the open set, its bytes about
        // to go to the closed totals (which t may or may not have read): the walk leaves it out.
        assertThat(a.finish()).isTrue();
        telemetry.addOpen(t, null);
        assertThat(metrics.bytesIn(t).total()).isEqualTo(1000);
        assertThat(metrics.byRoute(t).get("r").bytesIn().total()).isEqualTo(1000);
    }

    @Test
    void anHttpConnectionRoutedRequestByRequestCountsByKindButAsNoRoute() {
        ManagedConnection c = registry.register(80, new InetSocketAddress("127.0.0.1", 50001));
        registry.routed(c, ConnectionKind.PLAIN, ConnectionRegistry.PER_REQUEST, null,
                EffectivePolicies.of(ConnectionPolicy.defaults(), RoutePolicy.none(), ConnectionKind.PLAIN),
                clock, reason -> registry.closed(c));
        c.readFromClient(10);
        OpenTotals t = telemetry.openTotals(null);
        assertThat(metrics.byRoute(t)).isEmpty();
        assertThat(metrics.bytesIn(t).total()).isEqualTo(10);
        assertThat(metrics.byKind(java.util.Map.of()).get(ConnectionKind.PLAIN).routed()).isEqualTo(1);
        registry.closed(c);
        assertThat(metrics.byRoute(telemetry.openTotals(null))).isEmpty();
    }
}
