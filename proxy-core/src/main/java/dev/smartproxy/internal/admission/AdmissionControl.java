package dev.smartproxy.internal.admission;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.ConnectionLimiter;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.route.IpRules;
import dev.smartproxy.route.Route;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Who gets in, for one proxy: the proxy-wide IP rules, the per-IP limiter and the per-route
 * connection counts. The accept path asks it at accept ({@link #atAccept}) and when a route is
 * chosen ({@link #routeRefusal}, {@link #holdRoute}); every permit it hands out is released once,
 * from the client channel's close future. Thread-safe.
 */
public final class AdmissionControl {
    private static final Logger log = LoggerFactory.getLogger(AdmissionControl.class);
    private static final AttributeKey<Set<String>> HELD_ROUTES = AttributeKey.valueOf("smartproxy.heldRoutes");

    private final IpRules rules;
    private final AdmissionSettings settings;
    private final ConnectionLimiter limiter; // null: no per-IP limit
    private final ConcurrentHashMap<String, AtomicInteger> routeOpen = new ConcurrentHashMap<>();

    /** Admission under {@code rules} and {@code settings}; the in-process limiter reads {@code nanos}. */
    public AdmissionControl(IpRules rules, AdmissionSettings settings, LongSupplier nanos) {
        this.rules = rules;
        this.settings = settings;
        if (settings.customLimiter().isPresent()) {
            this.limiter = settings.limiter();
        } else if (settings.maxConnectionsPerIp() > 0 || settings.connectionRateLimitPerMinute() > 0) {
            this.limiter = new InProcessLimiter(settings, nanos);
        } else {
            this.limiter = null;
        }
    }

    /** No rules and no limits: everyone gets in. */
    public static AdmissionControl admitAll() {
        return new AdmissionControl(IpRules.none(), AdmissionSettings.builder().maxConnectionsPerIp(0)
                .connectionRateLimitPerMinute(0).build(), System::nanoTime);
    }

    /** The settings. */
    public AdmissionSettings settings() {
        return settings;
    }

    /** The per-IP limiter, or null when there is no per-IP limit. */
    public ConnectionLimiter limiter() {
        return limiter;
    }

    /**
     * The proxy-wide check of a connection just accepted from {@code client}: the reason to
     * refuse it, or null; when admitted, its per-IP permit is released when {@code channel} closes.
     */
    public CloseReason atAccept(InetAddress client, Channel channel, String logPrefix) {
        if (client == null) {
            return null; // the local transport: no address to judge
        }
        if (!rules.permits(client)) {
            return CloseReason.IP_BLOCKED;
        }
        if (limiter == null) {
            return null;
        }
        ConnectionLimiter.Decision d;
        try {
            d = limiter.acquire(client);
        } catch (RuntimeException e) {
            log.warn("{}the connection limiter failed; admitting", logPrefix, e);
            return null;
        }
        if (d == null || !d.admitted()) {
            return d == null ? null : d.refusedBy() == ConnectionLimiter.Limit.RATE_PER_IP
                    ? CloseReason.RATE_LIMITED : CloseReason.IP_CONNECTION_LIMIT;
        }
        channel.closeFuture().addListener(f -> {
            try {
                limiter.release(d);
            } catch (RuntimeException e) {
                log.warn("{}the connection limiter failed to release", logPrefix, e);
            }
        });
        return null;
    }

    /**
     * The check when {@code route} is chosen for a connection the route takes whole: its IP rules,
     * then its maximum (a permit held until {@code channel} closes). The reason to refuse, or null.
     */
    public CloseReason routeRefusal(InetAddress client, Channel channel, Route route) {
        if (client != null && !route.security().ipRules().permits(client)) {
            return CloseReason.IP_BLOCKED;
        }
        return holdRoute(channel, route) ? null : CloseReason.ROUTE_CONNECTION_LIMIT;
    }

    /** Whether {@code client} may use {@code route} by its IP rules. */
    public boolean routePermits(InetAddress client, Route route) {
        return client == null || route.security().ipRules().permits(client);
    }

    /**
     * Counts the connection on {@code channel} against {@code route}'s maximum until it closes,
     * once however often it is asked (an HTTP connection asks per request). False when the route
     * is full and the connection holds no place on it. On the connection's event loop.
     */
    public boolean holdRoute(Channel channel, Route route) {
        int max = route.security().maxConnections();
        if (max == 0) {
            return true;
        }
        Set<String> held = channel.attr(HELD_ROUTES).get();
        if (held != null && held.contains(route.name())) {
            return true;
        }
        AtomicInteger n = routeOpen.computeIfAbsent(route.name(), k -> new AtomicInteger());
        if (!takePlace(n, max)) {
            return false;
        }
        if (held == null) {
            held = new HashSet<>(4);
            channel.attr(HELD_ROUTES).set(held);
        }
        held.add(route.name());
        channel.closeFuture().addListener(f -> n.decrementAndGet());
        return true;
    }

    /**
     * For an HTTP connection, routed request by request: it counts against the maximum of the
     * route of its latest request only. A request to another route takes a place there first
     * (false, keeping the old place, when that route is full), then gives the old one back; the
     * place is released when the connection closes. So an idle keep-alive connection that once
     * visited every host holds one place, not one on each route. On the connection's event loop.
     */
    public boolean holdRouteForRequest(Channel channel, Route route) {
        RequestHold hold = channel.attr(REQUEST_HOLD).get();
        if (hold != null && route.name().equals(hold.route)) {
            return true;
        }
        int max = route.security().maxConnections();
        AtomicInteger n = null;
        if (max > 0) {
            n = routeOpen.computeIfAbsent(route.name(), k -> new AtomicInteger());
            if (!takePlace(n, max)) {
                return false;
            }
        }
        if (hold == null) {
            if (n == null) {
                return true; // no maximum here and no place held: nothing to track
            }
            RequestHold created = new RequestHold();
            channel.attr(REQUEST_HOLD).set(created);
            channel.closeFuture().addListener(f -> created.release());
            hold = created;
        }
        hold.release();
        hold.route = route.name();
        hold.count = n;
        return true;
    }

    /** Counts one more on {@code n} unless it is at {@code max} already: the route maximum's one check. */
    private static boolean takePlace(AtomicInteger n, int max) {
        int cur;
        do {
            cur = n.get();
            if (cur >= max) {
                return false;
            }
        } while (!n.compareAndSet(cur, cur + 1));
        return true;
    }

    /** The place an HTTP connection holds on the route of its latest request. */
    private static final class RequestHold {
        String route;
        AtomicInteger count;

        void release() {
            if (count != null) {
                count.decrementAndGet();
                count = null;
            }
            route = null;
        }
    }

    private static final io.netty.util.AttributeKey<RequestHold> REQUEST_HOLD =
            io.netty.util.AttributeKey.valueOf(AdmissionControl.class, "requestHold");

    /** Connections counted against {@code routeName}'s maximum now (routes with a maximum only). */
    public int routeOpen(String routeName) {
        AtomicInteger n = routeOpen.get(routeName);
        return n == null ? 0 : n.get();
    }
}
