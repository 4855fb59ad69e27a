package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.internal.admission.AdmissionControl;
import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import io.netty.channel.Channel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A listener bound paused by a live update is not among the listeners the proxy-wide accept gate
 * turns on until {@link ProxyServer#startAccepting} lets it accept (so a resume of the gate cannot
 * start it before the new table is in force), and shutdown still closes it.
 */
class PausedListenerTest {
    private ProxyServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.shutdown(Duration.ZERO);
        }
    }

    private static InetSocketAddress local(int port) {
        return InetSocketAddress.createUnresolved("paused-listener-proxy", port);
    }

    private void start() {
        ConnectionPolicy policy = ConnectionPolicy.builder().build();
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        AdmissionControl admission = new AdmissionControl(IpRules.none(),
                AdmissionSettings.builder().maxConnections(1).build(), Ticker.SYSTEM::nanoTime);
        RouteTable table = RouteTable.of(List.of(
                Route.named("a").match(m -> m.ports(1)).forward(f -> f.target("x", 1)).build()));
        ProxyContext px = new ProxyContext(table, policy, registry, Transport.local(),
                CertificateStore.of(List.<CertificateSource>of(), null), HttpSettings.defaults(),
                WebSocketSettings.defaults(), new BufferBudget(policy.bufferBudget()), admission);
        server = ProxyServer.start(px, 1, Map.of(1, local(1)));
        assertThat(server.acceptGate()).isNotNull();
    }

    @Test
    void aPausedListenerJoinsTheGateOnlyWhenItStartsAccepting() {
        start();
        Channel one = server.listener(1);
        assertThat(server.acceptingListeners()).containsExactly(one);
        server.bindPaused(Map.of(2, local(2)));
        Channel two = server.listener(2);
        assertThat(two.config().isAutoRead()).isFalse();
        assertThat(server.acceptingListeners()).containsExactly(one);
        server.startAccepting(List.of(2));
        assertThat(server.acceptingListeners()).containsExactly(one, two);
        server.startAccepting(List.of(2)); // again: no duplicate
        assertThat(server.acceptingListeners()).containsExactly(one, two);
    }

    @Test
    void shutdownClosesAListenerStillPaused() {
        start();
        server.bindPaused(Map.of(2, local(2)));
        Channel two = server.listener(2);
        server.shutdown(Duration.ZERO);
        server = null;
        assertThat(two.isOpen()).isFalse();
    }
}
