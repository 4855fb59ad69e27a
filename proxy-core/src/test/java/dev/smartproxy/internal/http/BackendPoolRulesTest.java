package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link BackendPool} on embedded channels: what it takes, its bounds, closes while parked, and idle eviction in frozen time. */
class BackendPoolRulesTest {
    private final ManagedConnection conn = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM)
            .register(80, new InetSocketAddress("127.0.0.1", 1));
    private final EmbeddedChannel loop = new EmbeddedChannel();
    private final EmbeddedChannel client = new EmbeddedChannel();
    private final List<EmbeddedChannel> backends = new ArrayList<>();
    private final HttpRoute.Forward target = new HttpRoute.Forward("r", "Backend.Test", 8080);
    private final BackendPool.Key key = BackendPool.Key.of(target, null);

    @AfterEach
    void tearDown() {
        loop.finishAndReleaseAll();
        client.finishAndReleaseAll();
        backends.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    private BackendPool pool(int maxPerKey, long idleMillis) {
        loop.freezeTime();
        return new BackendPool(loop.eventLoop(), maxPerKey, TimeUnit.MILLISECONDS.toNanos(idleMillis));
    }

    /** A connected leg that served one exchange to its end, as the exchange state machine leaves it. */
    private BackendLeg servedLeg() {
        BackendLeg l = new BackendLeg(new NoListener(), conn, client, target);
        EmbeddedChannel ch = new EmbeddedChannel(l);
        backends.add(ch);
        l.attach(ch.newSucceededFuture());
        l.poolAs(key);
        l.start();
        l.beginExchange();
        l.exchangeDone(false);
        return l;
    }

    @Test
    void keysIgnoreHostCaseAndRoutesThatSendAProxyHeaderHaveNone() {
        assertThat(BackendPool.Key.of(new HttpRoute.Forward("other", "backend.test", 8080), null)).isEqualTo(key);
        assertThat(BackendPool.Key.of(new HttpRoute.Forward("r", "backend.test", 8081), null)).isNotEqualTo(key);
        assertThat(BackendPool.Key.of(new HttpRoute.Forward("r", "backend.test", 8080, null, null,
                dev.smartproxy.route.ProxyProtocol.V1), null)).isNull();
    }

    @Test
    void onlyALegBetweenCleanExchangesIsTakenAndItIsHandedOutOnce() {
        BackendPool pool = pool(4, 1000);
        BackendLeg busy = servedLeg();
        busy.beginExchange(); // an exchange in flight
        assertThat(pool.release(busy)).isFalse();
        BackendLeg upgraded = servedLeg();
        upgraded.beginExchange();
        upgraded.exchangeDone(true);
        assertThat(pool.release(upgraded)).as("asked for an upgrade").isFalse();
        BackendLeg spoiled = servedLeg();
        spoiled.spoil();
        assertThat(pool.release(spoiled)).isFalse();

        BackendLeg clean = servedLeg();
        assertThat(pool.release(clean)).isTrue();
        assertThat(pool.size()).isEqualTo(1);
        assertThat(clean.channel().config().isAutoRead()).isTrue();
        assertThat(pool.acquire(BackendPool.Key.of(new HttpRoute.Forward("r", "other.test", 8080), null))).isNull();
        assertThat(pool.acquire(key)).isSameAs(clean);
        assertThat(pool.acquire(key)).isNull();
        assertThat(pool.size()).isZero();
    }

    @Test
    void connectionBoundAuthenticationKeepsALegPrivate() {
        var h = new io.netty.handler.codec.http.DefaultHttpHeaders();
        assertThat(ForwardedHeaders.bindsConnection(h, "authorization")).isFalse();
        h.add("Authorization", "Basic dXNlcjpwYXNz");
        assertThat(ForwardedHeaders.bindsConnection(h, "authorization")).isFalse();
        h.add("WWW-Authenticate", "Bearer");
        h.add("WWW-Authenticate", "negotiate YIIGhgYGKwYBBQUCoIIGejCCBnagMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCqKCBkAEggY8");
        assertThat(ForwardedHeaders.bindsConnection(h, "www-authenticate")).isTrue();
        assertThat(ForwardedHeaders.bindsConnection(h.set("Authorization", "NTLM abc"), "authorization")).isTrue();

        BackendPool pool = pool(4, 1000);
        BackendLeg l = servedLeg();
        l.beginExchange();
        l.keepPrivate();
        l.exchangeDone(false);
        assertThat(l.reusableFor(target)).as("its own client reuses it").isTrue();
        assertThat(pool.release(l)).isFalse();
    }

    @Test
    void theMostRecentlyParkedIsTakenFirstUpToTheBoundPerBackend() {
        BackendPool pool = pool(2, 1000);
        BackendLeg a = servedLeg();
        BackendLeg b = servedLeg();
        BackendLeg c = servedLeg();
        assertThat(pool.release(a)).isTrue();
        assertThat(pool.release(b)).isTrue();
        assertThat(pool.release(c)).as("over the bound: the caller closes it").isFalse();
        assertThat(pool.acquire(key)).isSameAs(b);
        assertThat(pool.acquire(key)).isSameAs(a);
    }

    @Test
    void anEventLoopKeepsAtMostItsBoundInAll() {
        BackendPool pool = pool(10_000, 1000);
        for (int i = 0; i < HttpSettings.MAX_POOLED_PER_THREAD; i++) {
            assertThat(pool.release(servedLeg())).isTrue();
        }
        assertThat(pool.release(servedLeg())).isFalse();
        assertThat(pool.size()).isEqualTo(HttpSettings.MAX_POOLED_PER_THREAD);
    }

    @Test
    void aLegClosedWhileParkedLeavesThePoolAndUnaskedBytesCloseIt() {
        BackendPool pool = pool(4, 1000);
        BackendLeg closed = servedLeg();
        BackendLeg chatty = servedLeg();
        pool.release(closed);
        pool.release(chatty);
        closed.channel().close();
        assertThat(pool.size()).isEqualTo(1);
        ((EmbeddedChannel) chatty.channel()).writeInbound(Unpooled.copiedBuffer(new byte[] {'H'}));
        assertThat(chatty.channel().isOpen()).isFalse();
        assertThat(pool.size()).isZero();
        assertThat(pool.acquire(key)).isNull();
    }

    @Test
    void idleLegsAreClosedByOneTimerOnceTheirTimeoutPasses() {
        BackendPool pool = pool(4, 1000);
        BackendLeg old = servedLeg();
        pool.release(old);
        loop.advanceTimeBy(600, TimeUnit.MILLISECONDS);
        BackendLeg young = servedLeg();
        pool.release(young);
        loop.advanceTimeBy(400, TimeUnit.MILLISECONDS);
        loop.runScheduledPendingTasks();
        assertThat(old.channel().isOpen()).isFalse();
        assertThat(young.channel().isOpen()).isTrue();
        assertThat(pool.size()).isEqualTo(1);
        loop.advanceTimeBy(599, TimeUnit.MILLISECONDS);
        loop.runScheduledPendingTasks();
        assertThat(young.channel().isOpen()).isTrue();
        loop.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        loop.runScheduledPendingTasks();
        assertThat(young.channel().isOpen()).isFalse();
        assertThat(pool.size()).isZero();
    }

    /** The client side is not under test: a listener that ignores everything (releasing what it reads). */
    private static final class NoListener implements BackendLeg.Listener {
        @Override
        public void legConnected(BackendLeg leg) {
        }

        @Override
        public void legFailed(BackendLeg leg, dev.smartproxy.event.CloseReason why, Throwable cause) {
        }

        @Override
        public void legRead(BackendLeg leg, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
        }

        @Override
        public void legBroken(BackendLeg leg, String why) {
        }

        @Override
        public void legResponseComplete(BackendLeg leg) {
        }

        @Override
        public void legSwitched(BackendLeg leg, Exchange e) {
        }

        @Override
        public void legReadComplete(BackendLeg leg) {
        }

        @Override
        public void legWritable(BackendLeg leg) {
        }

        @Override
        public void legInactive(BackendLeg leg) {
        }
    }
}
