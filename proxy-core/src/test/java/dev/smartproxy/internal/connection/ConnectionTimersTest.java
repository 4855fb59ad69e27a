package dev.smartproxy.internal.connection;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.config.KeepAliveTreatment;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.time.Duration.ofDays;
import static java.time.Duration.ofHours;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofMinutes;
import static java.time.Duration.ofSeconds;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The connection manager's timers as a pure state machine: a moved clock, no sockets, no
 * threads. Durations are the real defaults (hours and days); the clock makes them instant.
 */
class ConnectionTimersTest {
    private static final Duration MS = ofMillis(1);

    final ManualClock clock = new ManualClock();
    private final List<String> events = new ArrayList<>();
    private final List<CloseReason> closes = new ArrayList<>();
    private final List<String> order = new ArrayList<>();
    private final ConnectionRegistry registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
        @Override
        public void onAccepted(ConnectionInfo c) {
            order.add("accepted");
        }

        @Override
        public void onClassified(ConnectionInfo c) {
            order.add("classified " + c.kind().orElseThrow() + " " + c.policy().orElseThrow().treatment());
        }

        @Override
        public void onInactivityWarning(ConnectionInfo c) {
            events.add("warning");
            order.add("warning");
        }

        @Override
        public void onHalfClosed(ConnectionInfo c, CloseReason.Side side) {
            events.add("half-closed by " + side);
            order.add("half-closed");
        }

        @Override
        public void onClosed(ConnectionInfo c) {
            events.add("closed " + c.closeReason().orElseThrow());
            order.add("closed");
        }
    }), Clock.systemUTC(), clock);

    /** Registers and routes a connection under the proxy policy and route overrides. */
    private ManagedConnection open(ConnectionPolicy proxy, RoutePolicy route, ConnectionKind kind) {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        registry.routed(c, kind, "r", null, EffectivePolicies.of(proxy, route, kind), scheduler(), reason -> {
            closes.add(reason);
            registry.closed(c);
        });
        return c;
    }

    /** The scheduler the connections' timers use: the clock's own tasks here, one per arming. */
    Scheduler scheduler() {
        return clock;
    }

    private ManagedConnection open(ConnectionPolicy proxy) {
        return open(proxy, RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
    }

    private static ConnectionPolicy treatment(KeepAliveTreatment t) {
        return ConnectionPolicy.builder().keepAliveTreatment(t).build();
    }

    @Test
    void normalClosesAfterExactlyTheInactivityTimeout() {
        open(ConnectionPolicy.defaults());
        clock.advance(ofHours(4).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.INACTIVITY);
        assertThat(registry.openCount()).isZero();
        assertThat(registry.stats().closed(CloseReason.INACTIVITY)).isEqualTo(1);
    }

    @Test
    void aByteEitherWayRestartsTheInactivityTimer() {
        ManagedConnection c = open(ConnectionPolicy.defaults());
        clock.advance(ofHours(3));
        c.readFromBackend(1);
        clock.advance(ofHours(3));
        c.readFromClient(1);
        clock.advance(ofHours(4).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.INACTIVITY);
    }

    @Test
    void extendedMultipliesThenWarnsThenClosesAfterTheGrace() {
        open(treatment(KeepAliveTreatment.EXTENDED)); // 4 h x 6 = 24 h, then 10 min of grace
        clock.advance(ofHours(24).minus(MS));
        assertThat(events).isEmpty();
        clock.advance(MS);
        assertThat(events).containsExactly("warning");
        clock.advance(ofMinutes(10).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.INACTIVITY);
        assertThat(events).containsExactly("warning", "closed INACTIVITY");
    }

    @Test
    void aByteDuringTheWarningCancelsTheClose() {
        ManagedConnection c = open(treatment(KeepAliveTreatment.EXTENDED));
        clock.advance(ofHours(24));
        assertThat(c.warned()).isTrue();
        clock.advance(ofMinutes(9));
        c.readFromClient(10);
        clock.advance(ofMinutes(5));
        assertThat(closes).isEmpty();
        assertThat(c.warned()).isFalse();
        // A full new period must pass before the next warning.
        clock.advance(ofHours(24).minus(ofMinutes(5)).minus(MS));
        assertThat(events).containsExactly("warning");
        clock.advance(MS);
        assertThat(events).containsExactly("warning", "warning");
    }

    @Test
    void multiplierIsTheConfiguredOne() {
        open(ConnectionPolicy.builder().keepAliveTreatment(KeepAliveTreatment.EXTENDED)
                .keepAliveInactivityMultiplier(10).extendedKeepAliveGrace(Duration.ZERO).build());
        clock.advance(ofHours(40).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.INACTIVITY); // no grace: no warning period
        assertThat(events).doesNotContain("warning");
    }

    @Test
    void normalLifetimeClosesEvenABusyConnection() {
        ManagedConnection c = open(ConnectionPolicy.defaults());
        for (int h = 0; h < 23; h++) {
            clock.advance(ofHours(1));
            c.readFromClient(100);
        }
        clock.advance(ofHours(1).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.MAX_LIFETIME);
    }

    @Test
    void extendedLifetimeIsSevenDays() {
        ManagedConnection c = open(treatment(KeepAliveTreatment.EXTENDED));
        for (int h = 0; h < 7 * 24 - 1; h++) {
            clock.advance(ofHours(1));
            c.readFromBackend(100);
        }
        clock.advance(ofHours(1).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.MAX_LIFETIME);
    }

    @Test
    void immortalNeverClosesAndSchedulesNothing() {
        ManagedConnection c = open(treatment(KeepAliveTreatment.IMMORTAL));
        for (int i = 0; i < 1000; i++) {
            clock.advance(ofHours(24));
        }
        assertThat(closes).isEmpty();
        assertThat(events).isEmpty();
        assertThat(clock.scheduledCount()).isZero();
        assertThat(c.info().policy().orElseThrow().treatment()).isEqualTo(KeepAliveTreatment.IMMORTAL);
        assertThat(registry.openCount()).isEqualTo(1);
    }

    @Test
    void routeOverridesWinOverTheProxyDefaults() {
        open(ConnectionPolicy.defaults(), RoutePolicy.builder().keepAliveTreatment(KeepAliveTreatment.IMMORTAL).build(),
                ConnectionKind.PASSTHROUGH);
        open(ConnectionPolicy.defaults(), RoutePolicy.builder().inactivityTimeout(ofMinutes(1)).build(),
                ConnectionKind.PLAIN);
        open(treatment(KeepAliveTreatment.EXTENDED), RoutePolicy.builder().maxLifetime(ofHours(2)).build(),
                ConnectionKind.PASSTHROUGH);
        clock.advance(ofMinutes(1));
        assertThat(closes).containsExactly(CloseReason.INACTIVITY);
        clock.advance(ofHours(2));
        assertThat(closes).containsExactly(CloseReason.INACTIVITY, CloseReason.MAX_LIFETIME);
        clock.advance(ofDays(30));
        assertThat(registry.openCount()).isEqualTo(1); // the immortal one
    }

    @Test
    void halfCloseGraceIsByKindAndCountsFromTheLastByte() {
        ManagedConnection plain = open(ConnectionPolicy.defaults(), RoutePolicy.none(), ConnectionKind.PLAIN);
        ManagedConnection tls = open(ConnectionPolicy.defaults(), RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
        plain.clientInputClosed();
        tls.clientInputClosed();
        assertThat(events).containsExactly("half-closed by CLIENT", "half-closed by CLIENT");
        // A one-way download keeps flowing after the client's FIN: never cut while bytes move.
        for (int i = 0; i < 60; i++) {
            clock.advance(ofSeconds(20));
            plain.readFromBackend(1000);
            tls.readFromBackend(1000);
        }
        assertThat(closes).isEmpty();
        clock.advance(ofSeconds(30).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.HALF_CLOSE_GRACE_EXPIRED); // plain: 30 s
        clock.advance(ofMinutes(5).minus(ofSeconds(30)).minus(MS));
        assertThat(closes).hasSize(1);
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.HALF_CLOSE_GRACE_EXPIRED, CloseReason.HALF_CLOSE_GRACE_EXPIRED);
    }

    @Test
    void halfCloseGraceAppliesToImmortalButCanBeTurnedOff() {
        open(treatment(KeepAliveTreatment.IMMORTAL)).backendInputClosed();
        open(ConnectionPolicy.builder().keepAliveTreatment(KeepAliveTreatment.IMMORTAL)
                .halfCloseGraceTls(Duration.ZERO).build()).backendInputClosed();
        clock.advance(ofMinutes(5));
        assertThat(closes).containsExactly(CloseReason.HALF_CLOSE_GRACE_EXPIRED);
        clock.advance(ofDays(365));
        assertThat(registry.openCount()).isEqualTo(1);
    }

    @Test
    void busyConnectionsCostConstantTimerWork() {
        ManagedConnection c = open(ConnectionPolicy.defaults());
        for (int i = 0; i < 100_000; i++) {
            clock.advance(ofMillis(100)); // ten thousand seconds of traffic, a byte every 100 ms
            c.readFromClient(1);
        }
        // One check per inactivity period (4 h) and one pending task, however many bytes moved.
        assertThat(clock.scheduledCount()).isLessThanOrEqualTo(2);
        assertThat(clock.pending()).isEqualTo(1);
        assertThat(closes).isEmpty();
    }

    @Test
    void aClosedConnectionLeavesNoTimerBehind() {
        ManagedConnection c = open(ConnectionPolicy.defaults());
        c.closeReason(CloseReason.CLIENT_CLOSED);
        registry.closed(c);
        assertThat(clock.pending()).isZero();
        clock.advance(ofDays(2));
        assertThat(closes).isEmpty();
    }

    @Test
    void aCloseStuckOnAFlushIsForcedByTheNextDeadlineAndKeepsItsReason() {
        // The reason is recorded, but the close waits on a flush to a peer that stopped reading:
        // the timers still run, and the inactivity deadline forces the close.
        ManagedConnection c = open(ConnectionPolicy.builder().inactivityTimeout(ofSeconds(1)).build());
        c.closeReason(CloseReason.CLIENT_CLOSED);
        clock.advance(ofSeconds(1).minus(MS));
        assertThat(closes).isEmpty();
        clock.advance(MS);
        assertThat(closes).containsExactly(CloseReason.CLIENT_CLOSED);
        assertThat(registry.stats().closedByReason()).containsExactly(java.util.Map.entry(CloseReason.CLIENT_CLOSED, 1L));
    }

    @Test
    void theFirstReasonWinsEvenAcrossThreads() throws Exception {
        for (int round = 0; round < 200; round++) {
            ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
            boolean[] won = new boolean[2];
            Thread other = new Thread(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                won[1] = c.closeReason(CloseReason.SHUTDOWN);
            });
            other.start();
            start.await();
            won[0] = c.closeReason(CloseReason.BACKEND_RESET);
            other.join();
            assertThat(won[0] ^ won[1]).as("exactly one caller records the reason").isTrue();
            assertThat(c.closeReason()).isEqualTo(won[0] ? CloseReason.BACKEND_RESET : CloseReason.SHUTDOWN);
        }
    }

    @Test
    void eventsArriveInTheDocumentedOrder() {
        ManagedConnection c = open(treatment(KeepAliveTreatment.EXTENDED));
        clock.advance(ofHours(24));
        c.readFromClient(1);
        c.clientInputClosed();
        clock.advance(ofMinutes(5));
        assertThat(order).containsExactly("accepted", "classified PASSTHROUGH EXTENDED", "warning", "half-closed",
                "closed");
        assertThat(closes).containsExactly(CloseReason.HALF_CLOSE_GRACE_EXPIRED);
    }
}
