package dev.smartproxy.internal.admission;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.ConnectionLimiter;

import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The default {@link ConnectionLimiter}: concurrent connections and a token bucket per client
 * IP, in this JVM.
 *
 * <p>State per IP: the open count, the bucket's tokens and when they were last refilled. IPs with
 * a connection open live in {@code active} (at most one entry per open connection). An IP whose
 * last connection closes moves to {@code idle}, in the order IPs became idle, only if its bucket
 * is not full (a full bucket and no connection is no information: the entry is freed); idle
 * entries whose bucket has refilled are freed from the head as calls pass, and beyond
 * {@code maxTrackedIps} idle entries the oldest is forgotten. So memory is bounded by open
 * connections plus {@code maxTrackedIps}, whatever addresses clients cycle through.
 *
 * <p>One lock for all: each call is a few map operations, on the accept path and at close only.
 */
public final class InProcessLimiter implements ConnectionLimiter {
    private static final long MINUTE_NANOS = 60_000_000_000L;

    private final int maxPerIp;
    private final int perMinute;
    private final int maxIdle;
    private final double tokensPerNano;
    private final LongSupplier nanos;
    private final Map<IpKey, State> active = new HashMap<>();
    private final LinkedHashMap<IpKey, State> idle = new LinkedHashMap<>();

    /** Per-IP state: open connections, tokens, and the time of their last refill. */
    private static final class State {
        int open;
        double tokens;
        long refilledAt;

        State(double tokens, long now) {
            this.tokens = tokens;
            this.refilledAt = now;
        }
    }

    /** A limiter with {@code settings}' per-IP limits, reading time from {@code nanos} (monotonic). */
    public InProcessLimiter(AdmissionSettings settings, LongSupplier nanos) {
        this.maxPerIp = settings.maxConnectionsPerIp();
        this.perMinute = settings.connectionRateLimitPerMinute();
        this.maxIdle = settings.maxTrackedIps();
        this.tokensPerNano = perMinute / (double) MINUTE_NANOS;
        this.nanos = nanos;
    }

    @Override
    public synchronized Decision acquire(InetAddress client) {
        long now = nanos.getAsLong();
        IpKey key = IpKey.of(client);
        State s = active.get(key);
        if (s == null) {
            s = idle.remove(key);
            if (s == null) {
                s = new State(perMinute, now);
            }
        }
        refill(s, now);
        if (maxPerIp > 0 && s.open >= maxPerIp) {
            return Decision.refuse(Limit.CONNECTIONS_PER_IP, Duration.ZERO);
        }
        if (perMinute > 0 && s.tokens < 1) {
            if (s.open == 0) {
                idle.put(key, s); // back, now the most recent
            }
            long wait = (long) Math.ceil((1 - s.tokens) / tokensPerNano);
            return Decision.refuse(Limit.RATE_PER_IP, Duration.ofNanos(wait));
        }
        s.tokens -= 1;
        if (s.open++ == 0) {
            active.put(key, s);
        }
        sweep(now);
        return Decision.admit(key);
    }

    @Override
    public synchronized void release(Decision admitted) {
        IpKey key = (IpKey) admitted.token();
        State s = active.get(key);
        if (s == null) {
            return; // not ours: a decision released twice is a caller's bug, and is ignored
        }
        if (--s.open > 0) {
            return;
        }
        active.remove(key);
        long now = nanos.getAsLong();
        refill(s, now);
        if (perMinute > 0 && s.tokens < perMinute) {
            idle.put(key, s);
            if (idle.size() > maxIdle) {
                Iterator<State> oldest = idle.values().iterator();
                oldest.next();
                oldest.remove();
            }
        }
        sweep(now);
    }

    private void refill(State s, long now) {
        if (perMinute > 0 && s.tokens < perMinute) {
            s.tokens = Math.min(perMinute, s.tokens + (now - s.refilledAt) * tokensPerNano);
        }
        s.refilledAt = now;
    }

    /** Frees up to two idle entries at the head whose buckets have refilled. */
    private void sweep(long now) {
        Iterator<State> it = idle.values().iterator();
        for (int i = 0; i < 2 && it.hasNext(); i++) {
            State s = it.next();
            refill(s, now);
            if (s.tokens < perMinute) {
                return;
            }
            it.remove();
        }
    }

    /** IPs tracked now: with a connection open, and idle with a bucket still refilling. */
    public synchronized int trackedIps() {
        return active.size() + idle.size();
    }

    /** IPs tracked with no connection open. */
    public synchronized int idleIps() {
        return idle.size();
    }
}
