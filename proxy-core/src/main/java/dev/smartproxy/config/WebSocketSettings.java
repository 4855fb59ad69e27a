package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;

/**
 * How the proxy carries a WebSocket on a connection whose TLS it terminates (or plain HTTP),
 * after the HTTP Upgrade: the heartbeat on each leg and the largest frame it relays.
 *
 * <p><b>Heartbeat.</b> Every {@code pingInterval} the proxy sends each leg (client and backend,
 * independently) a Ping of its own. If that leg does not answer with the matching Pong within
 * {@code pingTimeout}, the connection closes with reason {@code HEARTBEAT_TIMEOUT} and the other
 * peer receives Close 1001 "heartbeat timeout". Only the matching Pong resets the check: data
 * frames, or Pings and Pongs the peers send each other, do not. The proxy's own Pings and Pongs
 * are never relayed to the other peer, and the proxy never answers a peer's Ping on the other
 * peer's behalf. Passthrough connections have no heartbeat: the proxy cannot see their frames.
 * Defaults: interval 30 s, timeout 10 s; {@link Duration#ZERO} as the interval turns it off.
 *
 * <p><b>Frame size.</b> A frame whose payload is larger than {@code maxFrameSize} closes the
 * connection: the sender receives Close 1009 and the other peer Close 1001. Default 1 MiB.
 * Messages may still be larger: they are relayed as fragments, one frame at a time.
 * <pre>{@code
 * WebSocketSettings ws = WebSocketSettings.builder()
 *     .pingInterval(Duration.ofSeconds(20))
 *     .pingTimeout(Duration.ofSeconds(5))
 *     .maxFrameSize(4 * 1024 * 1024)
 *     .build();
 * }</pre>
 */
public final class WebSocketSettings {
    /** The smallest {@link #maxFrameSize()}: the largest control frame payload (125 bytes). */
    public static final int MIN_FRAME_SIZE = 125;
    /** The largest {@link #maxFrameSize()}: 64 MiB. */
    public static final int MAX_FRAME_SIZE = 64 * 1024 * 1024;

    private static final Duration MIN_DURATION = Duration.ofMillis(1);
    private static final Duration MAX_DURATION = Duration.ofHours(1);
    private static final WebSocketSettings DEFAULTS = builder().build();

    private final Duration pingInterval;
    private final Duration pingTimeout;
    private final int maxFrameSize;

    private WebSocketSettings(Builder b) {
        this.pingInterval = b.pingInterval;
        this.pingTimeout = b.pingTimeout;
        this.maxFrameSize = b.maxFrameSize;
    }

    /** The defaults: ping every 30 s, 10 s to answer, frames up to 1 MiB. */
    public static WebSocketSettings defaults() {
        return DEFAULTS;
    }

    /** A new builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Time between the proxy's Pings on each leg; {@link Duration#ZERO} if the heartbeat is off. Default 30 s. */
    public Duration pingInterval() {
        return pingInterval;
    }

    /** Whether the proxy pings the legs ({@link #pingInterval()} is not zero). */
    public boolean heartbeatEnabled() {
        return !pingInterval.isZero();
    }

    /**
     * How long a leg may take to answer the proxy's Ping, counted from when the Ping was
     * written; also the bound on waiting for a peer's reply to a Close. Default 10 s.
     */
    public Duration pingTimeout() {
        return pingTimeout;
    }

    /** The largest frame payload relayed, in bytes; a larger frame closes the connection. Default 1 MiB. */
    public int maxFrameSize() {
        return maxFrameSize;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WebSocketSettings w && pingInterval.equals(w.pingInterval)
                && pingTimeout.equals(w.pingTimeout) && maxFrameSize == w.maxFrameSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(pingInterval, pingTimeout, maxFrameSize);
    }

    @Override
    public String toString() {
        return "WebSocketSettings[pingInterval=" + (pingInterval.isZero() ? "off" : Checks.format(pingInterval))
                + " pingTimeout=" + Checks.format(pingTimeout) + " maxFrameSize=" + maxFrameSize + "]";
    }

    /** Builds {@link WebSocketSettings}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private Duration pingInterval = Duration.ofSeconds(30);
        private Duration pingTimeout = Duration.ofSeconds(10);
        private int maxFrameSize = 1024 * 1024;

        private Builder() {
        }

        /** Time between the proxy's Pings on each leg: ZERO to turn the heartbeat off, or 1 ms to 1 h. Default 30 s. */
        public Builder pingInterval(Duration pingInterval) {
            this.pingInterval = Checks.duration("webSocket.pingInterval", pingInterval, MIN_DURATION, MAX_DURATION,
                    true);
            return this;
        }

        /** How long a leg may take to answer the proxy's Ping: 1 ms to 1 h. Default 10 s. */
        public Builder pingTimeout(Duration pingTimeout) {
            this.pingTimeout = Checks.duration("webSocket.pingTimeout", pingTimeout, MIN_DURATION, MAX_DURATION,
                    false);
            return this;
        }

        /** The largest frame payload in bytes: 125 to 67108864 (64 MiB). Default 1048576 (1 MiB). */
        public Builder maxFrameSize(int maxFrameSize) {
            this.maxFrameSize = (int) Checks.range("webSocket.maxFrameSize", maxFrameSize, MIN_FRAME_SIZE,
                    MAX_FRAME_SIZE);
            return this;
        }

        /** Builds the settings. */
        public WebSocketSettings build() {
            return new WebSocketSettings(this);
        }
    }
}
