package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.config.RoutePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.EffectivePolicies;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteRetirement;
import dev.smartproxy.route.RouteTable;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Retirement reconciled across updates, on one connection over an embedded channel (its event
 * loop runs when the test says): a kept connection of a changed route is not counted again by
 * later updates, a later retirement-only edit is no change, a restored route cancels a drain,
 * and the retirement of a later removal is the latest one.
 */
class RouteRetirementsTest {
    private final List<CloseReason> closes = new ArrayList<>();
    private final ConnectionRegistry registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
        @Override
        public void onClosed(ConnectionInfo c) {
            closes.add(c.closeReason().orElseThrow());
        }
    }), Clock.systemUTC(), Ticker.SYSTEM);
    private final EmbeddedChannel ch = new EmbeddedChannel();
    private ProxyContext px;
    private ManagedConnection conn;

    @AfterEach
    void tearDown() {
        ch.finishAndReleaseAll();
    }

    private static Route a(int target, RouteRetirement retirement) {
        return Route.named("a").match(m -> m.ports(1)).forward(f -> f.target("x", target)).retirement(retirement)
                .build();
    }

    private static final Route B = Route.named("b").match(m -> m.ports(2)).forward(f -> f.target("y", 1)).build();

    /** Opens the connection on route {@code routedBy}, the only route at first. */
    private void open(Route routedBy) {
        px = new ProxyContext(RouteTable.of(List.of(routedBy)), ConnectionPolicy.builder().build(), registry,
                Transport.local());
        conn = registry.register(1, new InetSocketAddress("127.0.0.1", 40000));
        registry.watchLeg(conn, ch);
        registry.routed(conn, ConnectionKind.PLAIN, "a", null,
                EffectivePolicies.of(px.policy(), RoutePolicy.none(), ConnectionKind.PLAIN),
                new EventLoopScheduler(ch.eventLoop()), reason -> ch.close());
        RouteRetirements.recordRoute(px, conn, routedBy, px.routing());
    }

    private RouteRetirements.Counts update(Route... routes) {
        RouteSnapshot old = px.routing();
        RouteSnapshot next = old.next(RouteTable.of(List.of(routes)));
        px.routing(next);
        RouteRetirements.Counts counts = RouteRetirements.sweep(px, old, next);
        ch.runPendingTasks();
        return counts;
    }

    @Test
    void aKeptConnectionOfAChangedRouteIsNotCountedAgainByLaterUpdates() {
        open(a(1, RouteRetirement.keep()));
        assertThat(update(a(2, RouteRetirement.keep()))).isEqualTo(new RouteRetirements.Counts(1, 0, 0));
        assertThat(update(a(2, RouteRetirement.keep()), B)).isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(update(a(2, RouteRetirement.keep()))).isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void aLaterRetirementOnlyEditIsNoChange() {
        open(a(1, RouteRetirement.keep()));
        update(a(2, RouteRetirement.keep()));
        assertThat(update(a(2, RouteRetirement.close()))).isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(ch.isOpen()).isTrue();
        assertThat(closes).isEmpty();
    }

    @Test
    void aRetirementOnlyEditRenewsTheRouteSoALaterRemovalUsesTheLatestRetirement() {
        Route first = a(1, RouteRetirement.keep());
        open(first);
        Route renewed = a(1, RouteRetirement.close());
        assertThat(update(renewed)).isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(conn.route()).isSameAs(renewed);
        assertThat(update(B)).isEqualTo(new RouteRetirements.Counts(0, 0, 1));
        assertThat(ch.isOpen()).isFalse();
        assertThat(closes).containsExactly(CloseReason.ROUTE_REMOVED);
    }

    @Test
    void anUpdateRestoringTheRouteCancelsTheDrain() {
        Route first = a(1, RouteRetirement.keep());
        open(first);
        assertThat(update(a(2, RouteRetirement.drain(Duration.ofMinutes(1)))))
                .isEqualTo(new RouteRetirements.Counts(0, 1, 0));
        assertThat(conn.draining()).isTrue();
        Route restored = a(1, RouteRetirement.keep());
        assertThat(update(restored)).isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(conn.draining()).isFalse();
        assertThat(conn.route()).isSameAs(restored);
        ch.advanceTimeBy(2, TimeUnit.MINUTES);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isTrue();
        assertThat(closes).isEmpty();
    }

    @Test
    void aDrainNotRestoredRunsOutThroughUnrelatedUpdates() {
        open(a(1, RouteRetirement.keep()));
        update(a(2, RouteRetirement.drain(Duration.ofMinutes(1))));
        assertThat(update(a(2, RouteRetirement.drain(Duration.ofMinutes(1))), B))
                .isEqualTo(new RouteRetirements.Counts(0, 0, 0));
        assertThat(conn.draining()).isTrue();
        ch.advanceTimeBy(2, TimeUnit.MINUTES);
        ch.runScheduledPendingTasks();
        assertThat(ch.isOpen()).isFalse();
        assertThat(closes).containsExactly(CloseReason.ROUTE_CHANGED);
    }
}
