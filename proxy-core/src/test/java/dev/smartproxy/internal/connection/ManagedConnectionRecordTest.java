package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionKind;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What an idle connection's record keeps, and that keeping less changes no value it reports. */
class ManagedConnectionRecordTest {
    private static final Instant OPENED = Instant.parse("2026-01-02T03:04:05.123456789Z");
    private final ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.fixed(OPENED, ZoneOffset.UTC),
            new ManualClock());

    @Test
    void theOpeningInstantIsKeptToTheNanosecond() {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        assertThat(c.info().openedAt()).isEqualTo(OPENED);
        assertThat(c.info().lastActivityAt()).isEqualTo(OPENED);
    }

    @Test
    void theLogPrefixCarriesTheId() {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        assertThat(c.log()).isEqualTo("[conn " + c.id() + "] ");
    }

    @Test
    void connectionsToOneNameShareOneSniString() {
        ManagedConnection a = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        ManagedConnection b = registry.register(443, new InetSocketAddress("127.0.0.1", 50001));
        a.sni(new String("shared-" + "name.test"));
        b.routed(ConnectionKind.PASSTHROUGH, "r", new String("shared-" + "name.test"));
        assertThat(a.info().sni()).contains("shared-name.test");
        assertThat(b.info().sni().orElseThrow()).isSameAs(a.info().sni().orElseThrow());
        b.routed(ConnectionKind.PASSTHROUGH, "r", null);
        assertThat(b.info().sni()).isEmpty();
    }

    @Test
    void theSharedNamesAreBoundedAndStillShareAfterStartingOver() {
        for (int i = 0; i <= SharedNames.MAX; i++) {
            assertThat(SharedNames.of("n" + i + ".test")).isEqualTo("n" + i + ".test");
        }
        String first = SharedNames.of(new String("again.test"));
        assertThat(SharedNames.of(new String("again.test"))).isSameAs(first);
    }

    @Test
    void theRegistryForgetsAClosedConnection() {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        assertThat(registry.openCount()).isEqualTo(1);
        registry.closed(c);
        registry.closed(c);
        assertThat(registry.openCount()).isZero();
        assertThat(registry.stats().accepted()).isEqualTo(1);
    }

    @Test
    void kindReasonAndFlagsShareOneIntWithoutMixingUp() {
        ManagedConnection c = registry.register(65535, new InetSocketAddress("127.0.0.1", 50000));
        assertThat(c.routePort()).isEqualTo(65535);
        assertThat(c.kind()).isNull();
        assertThat(c.closeReason()).isNull();
        c.routed(ConnectionKind.TERMINATED, "r", null);
        c.markWebSocket();
        c.drainAsked();
        c.backendInputClosed();
        c.clientInputClosed();
        assertThat(c.closeReason(CloseReason.INACTIVITY)).isTrue();
        assertThat(c.closeReason(CloseReason.MAX_LIFETIME)).as("the first reason wins").isFalse();
        assertThat(c.kind()).isEqualTo(ConnectionKind.TERMINATED);
        assertThat(c.closeReason()).isEqualTo(CloseReason.INACTIVITY);
        assertThat(c.isWebSocket()).isTrue();
        assertThat(c.wasDrainAsked()).isTrue();
        assertThat(c.bothInputsClosed()).isTrue();
        assertThat(c.orderlyCloseReason()).as("the backend's FIN came first").isEqualTo(CloseReason.BACKEND_CLOSED);
        registry.closed(c);
        assertThat(c.info().closeReason()).contains(CloseReason.INACTIVITY);
        assertThat(c.info().webSocket()).isTrue();
    }

    @Test
    void aConnectionClosedWithoutAReasonGetsTheOrderlyOne() {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        c.clientInputClosed();
        registry.closed(c);
        assertThat(c.closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aProxyProtocolClientKeepsThePeerApart() {
        InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 50000);
        InetSocketAddress client = new InetSocketAddress("192.0.2.7", 40000);
        ManagedConnection c = registry.register(443, peer);
        assertThat(c.peerAddress()).isSameAs(peer);
        c.clientAddress(client);
        assertThat(c.clientAddress()).isSameAs(client);
        assertThat(c.peerAddress()).isSameAs(peer);
        assertThatThrownBy(() -> c.clientAddress(peer)).isInstanceOf(IllegalStateException.class);
        ManagedConnection routed = registry.register(443, peer);
        routed.routed(ConnectionKind.PLAIN, "r", null);
        assertThatThrownBy(() -> routed.clientAddress(client)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aRoutePortOutsideTheTcpRangeIsRefused() {
        assertThatThrownBy(() -> registry.register(65536, new InetSocketAddress("127.0.0.1", 50000)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theRouteNameComesFromTheRouteCountersThePerRequestNameOrTheRecord() {
        ManagedConnection routed = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        ManualClock clock = new ManualClock();
        dev.smartproxy.config.EffectivePolicy policy = EffectivePolicies.of(dev.smartproxy.config.ConnectionPolicy.builder()
                .build(), dev.smartproxy.config.RoutePolicy.none(), ConnectionKind.PASSTHROUGH);
        registry.routed(routed, ConnectionKind.PASSTHROUGH, "web", "a.test", policy, clock, reason -> { });
        assertThat(routed.info().routeName()).contains("web");
        assertThat(routed.routeCounters().name()).isEqualTo("web");

        ManagedConnection perRequest = registry.register(80, new InetSocketAddress("127.0.0.1", 50001));
        registry.routed(perRequest, ConnectionKind.PLAIN, ConnectionRegistry.PER_REQUEST, null, policy, clock,
                reason -> { });
        assertThat(perRequest.info().routeName()).contains(ConnectionRegistry.PER_REQUEST);
        assertThat(perRequest.routeCounters()).isNull();

        ManagedConnection direct = registry.register(443, new InetSocketAddress("127.0.0.1", 50002));
        direct.routed(ConnectionKind.PLAIN, "no-counters", null);
        assertThat(direct.info().routeName()).contains("no-counters");
        direct.routed(ConnectionKind.PLAIN, null, null);
        assertThat(direct.info().routeName()).isEmpty();
    }

    /** A wall clock the test sets. */
    private static final class SetClock extends Clock {
        Instant now;

        SetClock(Instant now) {
            this.now = now;
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void theOpeningInstantIsExactWhateverTheWallClockDidSinceTheProxyStarted() {
        SetClock wall = new SetClock(OPENED);
        ConnectionRegistry r = new ConnectionRegistry(List.of(), wall, new ManualClock());
        InetSocketAddress a = new InetSocketAddress("127.0.0.1", 50000);
        Instant[] instants = {
            OPENED.plusNanos(1),               // a skew of a nanosecond: kept in the record
            OPENED.plusSeconds(2),             // about the edge of an int of nanoseconds
            OPENED.plusSeconds(3),             // past it: kept apart
            OPENED.minusSeconds(86_400 * 365), // a wall clock set back a year
            OPENED.minusNanos(2_147_483_648L), // just past the edge below
            OPENED.minusNanos(2_147_483_647L), // just inside it
        };
        for (Instant at : instants) {
            wall.now = at;
            ManagedConnection c = r.register(443, a);
            assertThat(c.info().openedAt()).isEqualTo(at);
            assertThat(c.info().lastActivityAt()).isEqualTo(at);
        }
    }

    @Test
    void aProxyProtocolClientOnASocketLegTakesThePeerFromTheLeg() {
        InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 50000);
        InetSocketAddress client = new InetSocketAddress("192.0.2.7", 40000);
        io.netty.channel.embedded.EmbeddedChannel leg = new io.netty.channel.embedded.EmbeddedChannel() {
            @Override
            protected java.net.SocketAddress remoteAddress0() {
                return peer; // as a socket channel's: the very object the record was registered with
            }
        };
        ManagedConnection c = registry.register(443, (InetSocketAddress) leg.remoteAddress());
        registry.watchLeg(c, leg);
        c.clientAddress(client);
        assertThat(c.clientAddress()).isSameAs(client);
        assertThat(c.peerAddress()).isSameAs(peer);
        leg.close();
        assertThat(c.peerAddress()).as("still, once the leg is closed").isSameAs(peer);
        leg.finishAndReleaseAll();
    }
}
