package dev.smartproxy.internal.connection;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.AccessLogListener;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.HttpExchange;
import dev.smartproxy.event.ProxyEventListener;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Events are built per type, only for the listeners that override that type's method. */
class ListenerSetTest {
    private final ManualClock clock = new ManualClock();
    private final List<String> got = new ArrayList<>();

    private final ProxyEventListener exchangesOnly = new ProxyEventListener() {
        @Override
        public void onHttpExchange(HttpExchange exchange) {
            got.add("exchange");
        }
    };

    private final ProxyEventListener closesOnly = new ProxyEventListener() {
        @Override
        public void onClosed(ConnectionInfo c) {
            got.add("closed " + c.id());
        }
    };

    private void openAndClose(ConnectionRegistry registry) {
        ManagedConnection c = registry.register(443, new InetSocketAddress("127.0.0.1", 50000));
        registry.routed(c, ConnectionKind.PLAIN, "r", null,
                EffectivePolicies.of(ConnectionPolicy.defaults(), RoutePolicy.none(), ConnectionKind.PLAIN),
                clock, reason -> registry.closed(c));
        c.clientInputClosed();
        registry.closed(c);
    }

    @Test
    void aListenerOfExchangesAloneCostsTheConnectionEventsNoSnapshot() {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(exchangesOnly), Clock.systemUTC(), clock);
        openAndClose(registry);
        assertThat(registry.eventSnapshots()).isZero();
        assertThat(registry.telemetry().wantsHttpExchanges()).isTrue();
        for (ListenerSet.Event e : ListenerSet.Event.values()) {
            assertThat(registry.listeners().wants(e)).as(e.name()).isEqualTo(e == ListenerSet.Event.HTTP_EXCHANGE);
        }
    }

    @Test
    void aListenerOfClosesGetsThemWhileTheOtherIsNeverAsked() {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(exchangesOnly), Clock.systemUTC(), clock);
        registry.addListener(closesOnly);
        openAndClose(registry);
        assertThat(got).containsExactly("closed 1");
        assertThat(registry.eventSnapshots()).isEqualTo(1); // the close's only
        assertThat(registry.removeListener(closesOnly)).isTrue();
        assertThat(registry.removeListener(closesOnly)).isFalse();
        openAndClose(registry);
        assertThat(got).containsExactly("closed 1");
        assertThat(registry.eventSnapshots()).isEqualTo(1);
    }

    @Test
    void noListenerWantsNoExchangeAndEachTypeKeepsTheOrderAdded() {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), clock);
        assertThat(registry.telemetry().wantsHttpExchanges()).isFalse();
        ProxyEventListener second = new ProxyEventListener() {
            @Override
            public void onClosed(ConnectionInfo c) {
                got.add("second");
            }
        };
        registry.addListener(closesOnly);
        registry.addListener(exchangesOnly);
        registry.addListener(second);
        assertThat(registry.listeners().of(ListenerSet.Event.CLOSED)).containsExactly(closesOnly, second);
        openAndClose(registry);
        assertThat(got).containsExactly("closed 1", "second");
    }

    @Test
    void theAccessLogWantsExchangesOnly() {
        ListenerSet set = new ListenerSet(List.of(new AccessLogListener()));
        assertThat(set.wants(ListenerSet.Event.HTTP_EXCHANGE)).isTrue();
        assertThat(set.wants(ListenerSet.Event.ACCEPTED)).isFalse();
        assertThat(set.wants(ListenerSet.Event.CLOSED)).isFalse();
    }
}
