package dev.smartproxy.config;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * Decides whether one more connection from a client address may be admitted, under the per-IP
 * limits: concurrent connections per IP and new connections per IP per minute. The proxy calls
 * {@link #acquire} once per accepted connection, at accept, before any byte is read, with the
 * real client address, and {@link #release} exactly once when a connection it admitted closes.
 *
 * <p>The default, {@link AdmissionSettings#limiter()} unset, is an in-process limiter: counts
 * and token buckets in this JVM, bounded in memory (see {@link AdmissionSettings}). It is the
 * only one shipped. To share the per-IP limits across a fleet of proxies, implement this
 * interface over a shared store (Redis {@code INCR}/{@code DECR} with a TTL on the count, and a
 * token bucket in a script, for example) and set it with
 * {@code SmartProxy.builder().admission(a -> a.limiter(myLimiter))}. Contract for an implementation:
 * <ul>
 *   <li>{@code acquire} runs on an I/O thread, on the accept path of every connection: it must
 *       not block. A shared store is best consulted asynchronously with a local decision in
 *       front (admit from a locally cached allowance, reconcile in the background), or
 *       admitted optimistically when the store is slow;</li>
 *   <li>{@code release} gets the very {@link Decision} {@code acquire} returned, once, for every
 *       admitted decision and never for a refused one; it runs on an I/O thread too;</li>
 *   <li>thread-safe: calls come from every I/O thread at once;</li>
 *   <li>a {@link RuntimeException} from {@code acquire} admits the connection (logged once per
 *       connection at WARN): a broken store must not take the proxy down with it.</li>
 * </ul>
 * The per-route maximum and the proxy-wide maximum are not asked of the limiter: they protect
 * this process's own resources, so they stay local.
 * <pre>{@code
 * ConnectionLimiter fleet = new ConnectionLimiter() {
 *     public Decision acquire(InetAddress client) {
 *         return store.tryAcquire(client) ? Decision.admit(client) : Decision.refuse(Limit.CONNECTIONS_PER_IP, Duration.ZERO);
 *     }
 *     public void release(Decision admitted) {
 *         store.release((InetAddress) admitted.token());
 *     }
 * };
 * }</pre>
 */
public interface ConnectionLimiter {

    /**
     * Admits or refuses one new connection from {@code client} (an IPv4-mapped IPv6 address
     * arrives as its IPv4 address).
     */
    Decision acquire(InetAddress client);

    /** Gives back what an admitted {@link Decision} holds; called once per admitted decision. */
    void release(Decision admitted);

    /** Which per-IP limit refused a connection. */
    enum Limit {
        /** The client IP has as many connections open as allowed ({@code CloseReason.IP_CONNECTION_LIMIT}). */
        CONNECTIONS_PER_IP,
        /** The client IP opened connections faster than allowed ({@code CloseReason.RATE_LIMITED}). */
        RATE_PER_IP
    }

    /**
     * The outcome of {@link #acquire}: admitted with an opaque {@code token} for the limiter's
     * own use in {@link #release}, or refused by a {@link Limit}, with how long until a retry
     * may succeed ({@link Duration#ZERO} when unknown).
     *
     * @param refusedBy  null when admitted
     * @param retryAfter when refused, the time until a retry may succeed; zero when admitted or unknown
     * @param token      when admitted, whatever the limiter needs to release it (may be null)
     */
    record Decision(Limit refusedBy, Duration retryAfter, Object token) {
        /** Checks the retry time. */
        public Decision {
            Objects.requireNonNull(retryAfter, "retryAfter");
            if (retryAfter.isNegative()) {
                throw new IllegalArgumentException("retryAfter: " + retryAfter + " (expected: zero or more)");
            }
        }

        /** An admission carrying {@code token} back to {@link #release}. */
        public static Decision admit(Object token) {
            return new Decision(null, Duration.ZERO, token);
        }

        /** A refusal by {@code limit}; a retry may succeed after {@code retryAfter}. */
        public static Decision refuse(Limit limit, Duration retryAfter) {
            return new Decision(Objects.requireNonNull(limit, "limit"), retryAfter, null);
        }

        /** Whether the connection is admitted. */
        public boolean admitted() {
            return refusedBy == null;
        }
    }
}
