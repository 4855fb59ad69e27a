package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.transport.BackendConnector;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.handler.ssl.SslContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The idle HTTP backend connections of one event loop, shared by every client connection on that
 * loop (HAProxy's {@code http-reuse always}): a client that sends one request per connection then
 * costs no backend connect and close. Confined to its loop, so a leg never changes threads.
 *
 * <p>A leg enters only when {@link BackendLeg#idleKey()} says it may: its last response read to
 * its end, neither side asked to close, never upgraded (nor asked to be), not after a HEAD, no
 * failure, still open, no NTLM or Negotiate authentication seen on it (that authenticates the
 * connection), and a route without a PROXY protocol header (that header names one client: such
 * legs have no key). Legs are keyed by backend host, port, TLS context, SNI and TCP
 * keepalive; taken most recently parked first; at most {@link HttpSettings#backendPoolSize()}
 * per key and {@link HttpSettings#MAX_POOLED_PER_THREAD} in all. While parked the pool is the
 * leg's listener: a close removes it at once, any byte from the backend closes it (a response
 * nobody asked for), and one timer per pool closes legs idle longer than
 * {@link HttpSettings#backendIdleTimeout()}.
 * <pre>{@code
 * BackendPool pool = BackendPool.of(connector, client.eventLoop(), settings);
 * BackendLeg leg = pool.acquire(key);      // null: connect a new one
 * if (!pool.release(leg)) leg.close();     // when its client is done with it
 * }</pre>
 */
final class BackendPool implements BackendLeg.Listener {
    private static final Logger log = LoggerFactory.getLogger(BackendPool.class);

    /** What a pooled leg must match to serve a request: the backend and how the connection was made. */
    record Key(String host, int port, SslContext tls, String sni, TcpKeepAlive keepAlive) {
        /** The key of a leg to {@code f}, or null if its connections must never be shared (a PROXY header). */
        static Key of(HttpRoute.Forward f, TcpKeepAlive keepAlive) {
            if (f.proxyProtocol() != null) {
                return null;
            }
            String sni = f.backendTls() == null ? null : f.backendSni() != null ? f.backendSni() : f.host();
            return new Key(f.host().toLowerCase(Locale.ROOT), f.port(), f.backendTls(), sni, keepAlive);
        }

        @Override
        public boolean equals(Object o) {
            // TLS contexts by identity: one per backend TLS setting (the proxy caches them).
            return o instanceof Key k && port == k.port && tls == k.tls && host.equals(k.host)
                    && java.util.Objects.equals(sni, k.sni) && java.util.Objects.equals(keepAlive, k.keepAlive);
        }

        @Override
        public int hashCode() {
            return (host.hashCode() * 31 + port) * 31 + System.identityHashCode(tls);
        }
    }

    private final EventExecutor loop;
    private final int maxPerKey;
    private final long idleNanos;
    /** Per key, the most recently parked first. */
    private final Map<Key, ArrayDeque<BackendLeg>> idle = new HashMap<>();
    private int size;
    private ScheduledFuture<?> evictTimer;

    BackendPool(EventExecutor loop, int maxPerKey, long idleNanos) {
        this.loop = loop;
        this.maxPerKey = maxPerKey;
        this.idleNanos = idleNanos;
    }

    /** {@code loop}'s pool for the connections {@code connector} makes; null when {@code settings} disable pooling. */
    static BackendPool of(BackendConnector connector, EventExecutor loop, HttpSettings settings) {
        if (settings.backendPoolSize() == 0) {
            return null;
        }
        return connector.perLoop(loop, BackendPool.class, l -> new BackendPool(l, settings.backendPoolSize(),
                settings.backendIdleTimeout().toNanos()));
    }

    /** How many legs wait in the pool. */
    int size() {
        return size;
    }

    /**
     * An open idle leg for {@code key}, taken out of the pool, or null. Legs found closed (the
     * close not yet processed) are dropped on the way.
     */
    BackendLeg acquire(Key key) {
        ArrayDeque<BackendLeg> legs = idle.get(key);
        if (legs == null) {
            return null;
        }
        BackendLeg l;
        BackendLeg found = null;
        while (found == null && (l = legs.pollFirst()) != null) {
            size--;
            if (l.channel().isActive()) {
                found = l;
            } else {
                l.close();
            }
        }
        if (legs.isEmpty()) {
            idle.remove(key);
        }
        return found;
    }

    /**
     * Parks {@code leg}, whose client is done with it, if {@link BackendLeg#idleKey()} allows and
     * there is room; false: the caller closes it.
     */
    boolean release(BackendLeg leg) {
        Key key = leg.idleKey();
        if (key == null || size >= HttpSettings.MAX_POOLED_PER_THREAD) {
            return false;
        }
        ArrayDeque<BackendLeg> legs = idle.computeIfAbsent(key, k -> new ArrayDeque<>());
        if (legs.size() >= maxPerKey) {
            return false;
        }
        leg.park(this, now());
        legs.addFirst(leg);
        size++;
        if (evictTimer == null) {
            scheduleEviction(idleNanos);
        }
        return true;
    }

    private long now() {
        return loop.ticker().nanoTime();
    }

    private void scheduleEviction(long delayNanos) {
        evictTimer = loop.schedule(this::evict, Math.max(delayNanos, 1), TimeUnit.NANOSECONDS);
    }

    /** Closes the legs idle for {@link HttpSettings#backendIdleTimeout()}; re-arms for the next to expire. */
    private void evict() {
        evictTimer = null;
        long now = now();
        long next = Long.MAX_VALUE;
        for (Iterator<ArrayDeque<BackendLeg>> it = idle.values().iterator(); it.hasNext(); ) {
            ArrayDeque<BackendLeg> legs = it.next();
            BackendLeg oldest;
            while ((oldest = legs.peekLast()) != null && now - oldest.idleSince() >= idleNanos) {
                legs.pollLast();
                size--;
                oldest.close();
            }
            if (legs.isEmpty()) {
                it.remove();
            } else {
                next = Math.min(next, oldest.idleSince() + idleNanos - now);
            }
        }
        if (next != Long.MAX_VALUE) {
            scheduleEviction(next);
        }
    }

    private void remove(BackendLeg leg) {
        Key key = leg.poolKey();
        ArrayDeque<BackendLeg> legs = key == null ? null : idle.get(key);
        if (legs != null && legs.remove(leg)) {
            size--;
            if (legs.isEmpty()) {
                idle.remove(key);
            }
        }
    }

    // ------------------------------------------------------------------ the listener of parked legs

    @Override
    public void legInactive(BackendLeg leg) {
        log.debug("pooled backend connection {} closed ({})", leg.channel().remoteAddress(), leg.closeReason());
        remove(leg);
    }

    @Override
    public void legRead(BackendLeg leg, Object msg) {
        ReferenceCountUtil.release(msg);
        log.debug("unexpected data from pooled backend connection {}: closing it", leg.channel().remoteAddress());
        leg.spoil();
        leg.close(); // legInactive removes it
    }

    @Override
    public void legConnected(BackendLeg leg) {
        // parked legs are connected already
    }

    @Override
    public void legFailed(BackendLeg leg, CloseReason why, Throwable cause) {
        // parked legs are connected already
    }

    @Override
    public void legBroken(BackendLeg leg, String why) {
        leg.close();
    }

    @Override
    public void legResponseComplete(BackendLeg leg) {
        // no exchange on a parked leg
    }

    @Override
    public void legSwitched(BackendLeg leg, Exchange e) {
        leg.close();
    }

    @Override
    public void legReadComplete(BackendLeg leg) {
        // nothing to flush
    }

    @Override
    public void legWritable(BackendLeg leg) {
        // nothing waits
    }
}
