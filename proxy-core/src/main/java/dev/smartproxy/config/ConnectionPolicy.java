package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;
import io.netty.util.internal.PlatformDependent;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The timeouts and limits that govern every connection. Immutable; build one with
 * {@link #builder()} or through {@code SmartProxy.builder()}, which exposes the same setters.
 *
 * <p>Conventions: durations are {@link Duration}s; where a setting can be turned off,
 * {@link Duration#ZERO} turns it off. The smallest timer is 1 ms, so tests can run the real
 * timers scaled down; the exception is {@link TcpKeepAlive}, whose idle time and interval are
 * kernel options counted in whole seconds.
 *
 * <p><b>One way in, one way to copy.</b> Every setting has one setter, on {@link Builder} and
 * with the same name on {@code SmartProxy.Builder}; {@link #toBuilder()} is the only copy. The
 * canonical constructor checks every setting and the cross-setting rules, so every path (the
 * builders, {@link #withOverrides}, a route's or a kind's overrides) goes through the same
 * validator and no invalid policy can exist.
 *
 * <p><b>Overrides by kind and by route.</b> The keepalive treatment, the inactivity timeout and
 * the maximum lifetime may also be set for one {@code ConnectionKind}
 * ({@link #passthroughOverrides()}, {@link #terminatedOverrides()}, {@link #plainOverrides()};
 * {@code SmartProxy.builder().policyFor(kind, p -> ...)}) and for one route
 * ({@code Route.Builder.policy}). Precedence: <b>route &gt; kind &gt; proxy</b>, per setting: a
 * route's override wins, else the kind's, else the proxy-wide value.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setting</th><th>default</th><th>reset by</th><th>on expiry</th></tr>
 *   <tr><td>{@code inactivityTimeout}</td><td>4 h</td><td>a byte in either direction</td>
 *       <td>close, reason {@code INACTIVITY} (treatment applies)</td></tr>
 *   <tr><td>{@code keepAliveTreatment}</td><td>{@code NORMAL}</td><td>-</td><td>see {@link KeepAliveTreatment}</td></tr>
 *   <tr><td>{@code keepAliveInactivityMultiplier}</td><td>6</td><td>-</td><td>{@code EXTENDED}: timeout x this</td></tr>
 *   <tr><td>{@code extendedKeepAliveGrace}</td><td>10 min</td><td>a byte in either direction</td>
 *       <td>{@code EXTENDED}: after the warning, close, reason {@code INACTIVITY}</td></tr>
 *   <tr><td>{@code maxConnectionLifetime}</td><td>24 h</td><td>nothing</td><td>{@code NORMAL}: close, reason {@code MAX_LIFETIME}</td></tr>
 *   <tr><td>{@code extendedKeepAliveLifetime}</td><td>7 days</td><td>nothing</td><td>{@code EXTENDED}: close, reason {@code MAX_LIFETIME}</td></tr>
 *   <tr><td>{@code connectTimeout}</td><td>30 s</td><td>-</td><td>close the client, reason {@code CONNECT_TIMEOUT}</td></tr>
 *   <tr><td>{@code initialDataTimeout}</td><td>60 s</td><td>-</td><td>no complete ClientHello yet: close, reason {@code CLIENT_HELLO_TIMEOUT};
 *       on a route that terminates TLS, as long again for the rest of the handshake: close, reason {@code TLS_HANDSHAKE_TIMEOUT}</td></tr>
 *   <tr><td>{@code maxClientHelloSize}</td><td>64 KiB</td><td>-</td><td>larger, or still incomplete after this + 4 + 5 x 256
 *       wire bytes (record headers count on the wire): close, reason {@code CLIENT_HELLO_TOO_LARGE}</td></tr>
 *   <tr><td>{@code maxPendingDataSize}</td><td>64 KiB</td><td>-</td><td>client bytes held while the backend connect is in flight; at the cap the proxy stops reading (backpressure)</td></tr>
 *   <tr><td>{@code bufferBudget}</td><td>a quarter of the JVM's direct memory, 4 MiB to 1 GiB</td><td>-</td>
 *       <td>proxy-wide bytes held for clients (pending data, ClientHello peeks, WebSocket frames being
 *       reassembled); when full, connections above 16 KiB stop being read until there is room (backpressure)</td></tr>
 *   <tr><td>{@code halfCloseGraceTls}</td><td>5 min</td><td>a byte on the open direction</td><td>close, reason {@code HALF_CLOSE_GRACE_EXPIRED}</td></tr>
 *   <tr><td>{@code halfCloseGracePlain}</td><td>30 s</td><td>a byte on the open direction</td><td>close, reason {@code HALF_CLOSE_GRACE_EXPIRED}</td></tr>
 *   <tr><td>{@code tcpKeepAlive}</td><td>on, 60 s / 10 s x 6 (whole seconds)</td><td>kernel</td><td>dead peer found: close</td></tr>
 *   <tr><td>{@code passthroughOverrides}, {@code terminatedOverrides}, {@code plainOverrides}</td><td>none</td><td>-</td>
 *       <td>treatment, inactivity timeout and lifetime for connections of that kind (route &gt; kind &gt; proxy)</td></tr>
 *   <tr><td>{@code gracefulShutdownTimeout}</td><td>30 s</td><td>-</td><td>{@code close()}: close the rest, reason {@code SHUTDOWN}</td></tr>
 * </table>
 * <pre>{@code
 * ConnectionPolicy p = ConnectionPolicy.builder()
 *     .inactivityTimeout(Duration.ofHours(4))
 *     .keepAliveTreatment(KeepAliveTreatment.EXTENDED)
 *     .keepAliveInactivityMultiplier(10)
 *     .passthroughOverrides(k -> k.keepAliveTreatment(KeepAliveTreatment.EXTENDED))
 *     .build();
 * }</pre>
 *
 * @param inactivityTimeout             see {@link #inactivityTimeout()}
 * @param keepAliveTreatment            see {@link #keepAliveTreatment()}
 * @param keepAliveInactivityMultiplier see {@link #keepAliveInactivityMultiplier()}
 * @param extendedKeepAliveGrace        see {@link #extendedKeepAliveGrace()}
 * @param maxConnectionLifetime         see {@link #maxConnectionLifetime()}
 * @param extendedKeepAliveLifetime     see {@link #extendedKeepAliveLifetime()}
 * @param connectTimeout                see {@link #connectTimeout()}
 * @param initialDataTimeout            see {@link #initialDataTimeout()}
 * @param maxClientHelloSize            see {@link #maxClientHelloSize()}
 * @param maxPendingDataSize            see {@link #maxPendingDataSize()}
 * @param bufferBudget                  see {@link #bufferBudget()}
 * @param halfCloseGraceTls             see {@link #halfCloseGraceTls()}
 * @param halfCloseGracePlain           see {@link #halfCloseGracePlain()}
 * @param tcpKeepAlive                  see {@link #tcpKeepAlive()}
 * @param gracefulShutdownTimeout       see {@link #gracefulShutdownTimeout()}
 * @param passthroughOverrides          see {@link #passthroughOverrides()}
 * @param terminatedOverrides           see {@link #terminatedOverrides()}
 * @param plainOverrides                see {@link #plainOverrides()}
 */
public record ConnectionPolicy(Duration inactivityTimeout,
                               KeepAliveTreatment keepAliveTreatment,
                               int keepAliveInactivityMultiplier,
                               Duration extendedKeepAliveGrace,
                               Duration maxConnectionLifetime,
                               Duration extendedKeepAliveLifetime,
                               Duration connectTimeout,
                               Duration initialDataTimeout,
                               int maxClientHelloSize,
                               long maxPendingDataSize,
                               long bufferBudget,
                               Duration halfCloseGraceTls,
                               Duration halfCloseGracePlain,
                               TcpKeepAlive tcpKeepAlive,
                               Duration gracefulShutdownTimeout,
                               RoutePolicy passthroughOverrides,
                               RoutePolicy terminatedOverrides,
                               RoutePolicy plainOverrides) {
    static final Duration MIN_TIMER = Duration.ofMillis(1);
    static final Duration MAX_TIMER = Duration.ofDays(365);
    /** The smallest {@link #bufferBudget()}: 64 KiB. */
    public static final long MIN_BUFFER_BUDGET = 64 * 1024;
    /** The largest {@link #bufferBudget()}: 1 TiB. */
    public static final long MAX_BUFFER_BUDGET = 1L << 40;
    /** The default {@link #bufferBudget()} in this JVM; see there for the formula. */
    public static final long DEFAULT_BUFFER_BUDGET = defaultBufferBudget(PlatformDependent.maxDirectMemory());
    private static final ConnectionPolicy DEFAULTS = builder().build();

    /**
     * Checks every setting (the same checks as the setters) and the cross-setting rules: the one
     * validator every path goes through.
     *
     * @throws IllegalArgumentException naming the setting, e.g. {@code connectTimeout: 0s (expected: 1ms to 10m)};
     *         for a rule broken only under a kind's overrides, the message starts with that
     *         overrides' name, e.g. {@code passthroughOverrides inactivityTimeout: ...}
     */
    public ConnectionPolicy {
        checkInactivityTimeout(inactivityTimeout);
        Objects.requireNonNull(keepAliveTreatment, "keepAliveTreatment");
        checkMultiplier(keepAliveInactivityMultiplier);
        timer("extendedKeepAliveGrace", extendedKeepAliveGrace);
        timer("maxConnectionLifetime", maxConnectionLifetime);
        timer("extendedKeepAliveLifetime", extendedKeepAliveLifetime);
        checkConnectTimeout(connectTimeout);
        checkInitialDataTimeout(initialDataTimeout);
        checkMaxClientHelloSize(maxClientHelloSize);
        checkMaxPendingDataSize(maxPendingDataSize);
        checkBufferBudget(bufferBudget);
        timer("halfCloseGraceTls", halfCloseGraceTls);
        timer("halfCloseGracePlain", halfCloseGracePlain);
        Objects.requireNonNull(tcpKeepAlive, "tcpKeepAlive");
        checkGracefulShutdownTimeout(gracefulShutdownTimeout);
        Objects.requireNonNull(passthroughOverrides, "passthroughOverrides");
        Objects.requireNonNull(terminatedOverrides, "terminatedOverrides");
        Objects.requireNonNull(plainOverrides, "plainOverrides");
        if (maxPendingDataSize < maxClientHelloSize) {
            throw new IllegalArgumentException("maxPendingDataSize: " + maxPendingDataSize
                    + " (expected: at least maxClientHelloSize, " + maxClientHelloSize + ")");
        }
        checkExtendedProduct("", keepAliveTreatment, inactivityTimeout, keepAliveInactivityMultiplier);
        checkExtendedProduct("passthroughOverrides ", passthroughOverrides, keepAliveTreatment, inactivityTimeout,
                keepAliveInactivityMultiplier);
        checkExtendedProduct("terminatedOverrides ", terminatedOverrides, keepAliveTreatment, inactivityTimeout,
                keepAliveInactivityMultiplier);
        checkExtendedProduct("plainOverrides ", plainOverrides, keepAliveTreatment, inactivityTimeout,
                keepAliveInactivityMultiplier);
    }

    /** Every setting at its default. */
    public static ConnectionPolicy defaults() {
        return DEFAULTS;
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this policy's values: the one way to copy a policy. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * The settings of one class of connections: this policy with {@code layers} applied in
     * order, a later layer winning over an earlier one (pass the kind's overrides, then the
     * route's, for route &gt; kind &gt; proxy). An override's {@code maxLifetime} replaces both
     * {@code maxConnectionLifetime} and {@code extendedKeepAliveLifetime}, so it holds whatever
     * the treatment. The result has no per-kind overrides left: they are this policy's to apply.
     *
     * @throws IllegalArgumentException if the result breaks a cross-setting rule (for example
     *         {@code EXTENDED} with an inactivity timeout x multiplier above 365 days)
     */
    public ConnectionPolicy withOverrides(RoutePolicy... layers) {
        Builder b = toBuilder();
        for (RoutePolicy layer : layers) {
            layer.keepAliveTreatment().ifPresent(b::keepAliveTreatment);
            layer.inactivityTimeout().ifPresent(b::inactivityTimeout);
            layer.maxLifetime().ifPresent(l -> b.maxConnectionLifetime(l).extendedKeepAliveLifetime(l));
        }
        b.passthroughOverrides = RoutePolicy.none();
        b.terminatedOverrides = RoutePolicy.none();
        b.plainOverrides = RoutePolicy.none();
        return b.build();
    }

    /** No byte in either direction for this long closes the connection. Default 4 h; ZERO: off. */
    public Duration inactivityTimeout() {
        return inactivityTimeout;
    }

    /** The keepalive treatment. Default {@link KeepAliveTreatment#NORMAL}. */
    public KeepAliveTreatment keepAliveTreatment() {
        return keepAliveTreatment;
    }

    /** Multiplier of the inactivity timeout under {@code EXTENDED}. Default 6 (4 h x 6 = 24 h). */
    public int keepAliveInactivityMultiplier() {
        return keepAliveInactivityMultiplier;
    }

    /** Under {@code EXTENDED}: time between the inactivity warning and the close. Default 10 min. */
    public Duration extendedKeepAliveGrace() {
        return extendedKeepAliveGrace;
    }

    /** Maximum age under {@code NORMAL}. Default 24 h; ZERO: no limit. */
    public Duration maxConnectionLifetime() {
        return maxConnectionLifetime;
    }

    /** Maximum age under {@code EXTENDED}. Default 7 days; ZERO: no limit. */
    public Duration extendedKeepAliveLifetime() {
        return extendedKeepAliveLifetime;
    }

    /** Time allowed to establish the backend connection. Default 30 s. */
    public Duration connectTimeout() {
        return connectTimeout;
    }

    /**
     * Time allowed for a complete ClientHello on ports that need one (reason
     * {@code CLIENT_HELLO_TIMEOUT}); on a route that terminates TLS, the same time again, from
     * the ClientHello on, for the client to complete the TLS handshake (reason
     * {@code TLS_HANDSHAKE_TIMEOUT}). Default 60 s.
     */
    public Duration initialDataTimeout() {
        return initialDataTimeout;
    }

    /**
     * Largest ClientHello handshake message accepted, in bytes. Default 65536. The peek also
     * holds at most this + 4 + 5 x 256 bytes on the wire (the hello's records with their
     * headers) while the hello is incomplete: a hello at the cap may come in up to 256 records.
     */
    public int maxClientHelloSize() {
        return maxClientHelloSize;
    }

    /**
     * Client bytes held per connection while the backend connect is in flight; at the cap the
     * proxy stops reading the client until the connect completes (backpressure: nothing is
     * lost). Default 64 KiB, in the range peers use (HAProxy buffers 16 KiB per direction),
     * where the TypeScript SmartProxy holds 10 MB: a small cap only delays a client that
     * sends a lot before the backend answers, while a large one lets a few connections to a
     * slow backend take the proxy's memory. The bytes also count in {@link #bufferBudget()}.
     */
    public long maxPendingDataSize() {
        return maxPendingDataSize;
    }

    /**
     * The proxy-wide budget, in bytes, for what the proxy holds on behalf of clients: pending
     * data during backend connects, ClientHello peeks, and WebSocket frames being reassembled.
     * Each such buffer may always hold 16 KiB; above that it is read only while the budget has
     * room, and is otherwise paused (auto-read off, the client waits) until bytes are released.
     * It is backpressure, never a close: buffers that cannot progress while paused are ended by
     * their own timeouts ({@code connectTimeout}, {@code initialDataTimeout}, the inactivity
     * timeout). Bytes queued for writing to a socket are bounded separately by each channel's
     * write-buffer water marks.
     *
     * <p>Default: a quarter of the JVM's maximum direct memory (Netty's
     * {@code PlatformDependent.maxDirectMemory()}, which follows {@code -XX:MaxDirectMemorySize},
     * else {@code -Xmx}), clamped to 4 MiB..1 GiB: {@code min(1 GiB, max(4 MiB, maxDirect / 4))}.
     * With {@code -Xmx1g} that is 256 MiB.
     */
    public long bufferBudget() {
        return bufferBudget;
    }

    /** The default {@link #bufferBudget()} for a JVM with {@code maxDirectMemory} bytes of direct memory. */
    static long defaultBufferBudget(long maxDirectMemory) {
        return Math.min(1L << 30, Math.max(4L << 20, maxDirectMemory / 4));
    }

    /** Half-close grace for {@code PASSTHROUGH} and {@code TERMINATED} connections. Default 5 min; ZERO: off. */
    public Duration halfCloseGraceTls() {
        return halfCloseGraceTls;
    }

    /** Half-close grace for {@code PLAIN} connections. Default 30 s; ZERO: off. */
    public Duration halfCloseGracePlain() {
        return halfCloseGracePlain;
    }

    /**
     * TCP keepalive on both legs. Default {@link TcpKeepAlive#defaults()}. Its idle time and
     * interval are whole seconds (the kernel's unit), unlike every other timer here.
     */
    public TcpKeepAlive tcpKeepAlive() {
        return tcpKeepAlive;
    }

    /** How long {@code close()} lets open connections drain. Default 30 s; ZERO: close at once. */
    public Duration gracefulShutdownTimeout() {
        return gracefulShutdownTimeout;
    }

    /** Overrides for {@code PASSTHROUGH} connections (a route's own overrides win). Default none. */
    public RoutePolicy passthroughOverrides() {
        return passthroughOverrides;
    }

    /** Overrides for {@code TERMINATED} connections (a route's own overrides win). Default none. */
    public RoutePolicy terminatedOverrides() {
        return terminatedOverrides;
    }

    /** Overrides for {@code PLAIN} connections (a route's own overrides win). Default none. */
    public RoutePolicy plainOverrides() {
        return plainOverrides;
    }

    @Override
    public String toString() {
        return "ConnectionPolicy[inactivity=" + Checks.format(inactivityTimeout) + " treatment=" + keepAliveTreatment
                + " x" + keepAliveInactivityMultiplier + " grace=" + Checks.format(extendedKeepAliveGrace)
                + " lifetime=" + Checks.format(maxConnectionLifetime) + "/" + Checks.format(extendedKeepAliveLifetime)
                + " connect=" + Checks.format(connectTimeout) + " initialData=" + Checks.format(initialDataTimeout)
                + " hello=" + maxClientHelloSize + " pending=" + maxPendingDataSize + " budget=" + bufferBudget
                + " halfClose=" + Checks.format(halfCloseGraceTls) + "/" + Checks.format(halfCloseGracePlain)
                + " " + tcpKeepAlive + " shutdown=" + Checks.format(gracefulShutdownTimeout)
                + (passthroughOverrides.isEmpty() ? "" : " passthrough=" + passthroughOverrides)
                + (terminatedOverrides.isEmpty() ? "" : " terminated=" + terminatedOverrides)
                + (plainOverrides.isEmpty() ? "" : " plain=" + plainOverrides) + "]";
    }

    // ---------------------------------------------------------------- the checks, one per setting

    private static Duration timer(String name, Duration d) {
        return Checks.duration(name, d, MIN_TIMER, MAX_TIMER, true);
    }

    private static Duration checkInactivityTimeout(Duration d) {
        return timer("inactivityTimeout", d);
    }

    private static int checkMultiplier(int multiplier) {
        return (int) Checks.range("keepAliveInactivityMultiplier", multiplier, 1, 1000);
    }

    private static Duration checkConnectTimeout(Duration d) {
        return Checks.duration("connectTimeout", d, MIN_TIMER, Duration.ofMinutes(10), false);
    }

    private static Duration checkInitialDataTimeout(Duration d) {
        return Checks.duration("initialDataTimeout", d, MIN_TIMER, Duration.ofHours(1), false);
    }

    private static int checkMaxClientHelloSize(int bytes) {
        return (int) Checks.range("maxClientHelloSize", bytes, 512, 0xFFFFFF);
    }

    private static long checkMaxPendingDataSize(long bytes) {
        return Checks.range("maxPendingDataSize", bytes, 1024, 1L << 30);
    }

    private static long checkBufferBudget(long bytes) {
        return Checks.range("bufferBudget", bytes, MIN_BUFFER_BUDGET, MAX_BUFFER_BUDGET);
    }

    private static Duration checkGracefulShutdownTimeout(Duration d) {
        return Checks.duration("gracefulShutdownTimeout", d, MIN_TIMER, Duration.ofHours(1), true);
    }

    /** The one cross-setting rule on treatment: under {@code EXTENDED}, inactivity x multiplier at most 365 days. */
    private static void checkExtendedProduct(String prefix, KeepAliveTreatment treatment, Duration inactivity,
                                             int multiplier) {
        if (treatment == KeepAliveTreatment.EXTENDED && inactivity.multipliedBy(multiplier).compareTo(MAX_TIMER) > 0) {
            throw new IllegalArgumentException(prefix + "inactivityTimeout: " + Checks.format(inactivity)
                    + " x keepAliveInactivityMultiplier " + multiplier + " (expected: a product of at most 365d)");
        }
    }

    private static void checkExtendedProduct(String prefix, RoutePolicy layer, KeepAliveTreatment treatment,
                                             Duration inactivity, int multiplier) {
        checkExtendedProduct(prefix, layer.keepAliveTreatment().orElse(treatment),
                layer.inactivityTimeout().orElse(inactivity), multiplier);
    }

    /**
     * Builds a {@link ConnectionPolicy}. Each setter validates its value at once and throws
     * {@link IllegalArgumentException} naming the setting and the expected range; cross-setting
     * rules are checked by {@link #build()}. Not thread-safe.
     */
    public static final class Builder {
        private Duration inactivityTimeout = Duration.ofHours(4);
        private KeepAliveTreatment keepAliveTreatment = KeepAliveTreatment.NORMAL;
        private int keepAliveInactivityMultiplier = 6;
        private Duration extendedKeepAliveGrace = Duration.ofMinutes(10);
        private Duration maxConnectionLifetime = Duration.ofHours(24);
        private Duration extendedKeepAliveLifetime = Duration.ofDays(7);
        private Duration connectTimeout = Duration.ofSeconds(30);
        private Duration initialDataTimeout = Duration.ofSeconds(60);
        private int maxClientHelloSize = 64 * 1024;
        private long maxPendingDataSize = 64 * 1024;
        private long bufferBudget = DEFAULT_BUFFER_BUDGET;
        private Duration halfCloseGraceTls = Duration.ofMinutes(5);
        private Duration halfCloseGracePlain = Duration.ofSeconds(30);
        private TcpKeepAlive tcpKeepAlive = TcpKeepAlive.defaults();
        private Duration gracefulShutdownTimeout = Duration.ofSeconds(30);
        private RoutePolicy passthroughOverrides = RoutePolicy.none();
        private RoutePolicy terminatedOverrides = RoutePolicy.none();
        private RoutePolicy plainOverrides = RoutePolicy.none();

        Builder() {
        }

        Builder(ConnectionPolicy p) {
            inactivityTimeout = p.inactivityTimeout;
            keepAliveTreatment = p.keepAliveTreatment;
            keepAliveInactivityMultiplier = p.keepAliveInactivityMultiplier;
            extendedKeepAliveGrace = p.extendedKeepAliveGrace;
            maxConnectionLifetime = p.maxConnectionLifetime;
            extendedKeepAliveLifetime = p.extendedKeepAliveLifetime;
            connectTimeout = p.connectTimeout;
            initialDataTimeout = p.initialDataTimeout;
            maxClientHelloSize = p.maxClientHelloSize;
            maxPendingDataSize = p.maxPendingDataSize;
            bufferBudget = p.bufferBudget;
            halfCloseGraceTls = p.halfCloseGraceTls;
            halfCloseGracePlain = p.halfCloseGracePlain;
            tcpKeepAlive = p.tcpKeepAlive;
            gracefulShutdownTimeout = p.gracefulShutdownTimeout;
            passthroughOverrides = p.passthroughOverrides;
            terminatedOverrides = p.terminatedOverrides;
            plainOverrides = p.plainOverrides;
        }

        /** Inactivity timeout: ZERO (off) or 1 ms to 365 days. Default 4 h. */
        public Builder inactivityTimeout(Duration timeout) {
            inactivityTimeout = checkInactivityTimeout(timeout);
            return this;
        }

        /** Keepalive treatment. Default {@code NORMAL}. */
        public Builder keepAliveTreatment(KeepAliveTreatment treatment) {
            keepAliveTreatment = Objects.requireNonNull(treatment, "keepAliveTreatment");
            return this;
        }

        /** Inactivity multiplier under {@code EXTENDED}: 1..1000. Default 6. */
        public Builder keepAliveInactivityMultiplier(int multiplier) {
            keepAliveInactivityMultiplier = checkMultiplier(multiplier);
            return this;
        }

        /** Grace between the inactivity warning and the close under {@code EXTENDED}: ZERO or 1 ms to 365 days. Default 10 min. */
        public Builder extendedKeepAliveGrace(Duration grace) {
            extendedKeepAliveGrace = timer("extendedKeepAliveGrace", grace);
            return this;
        }

        /** Maximum age under {@code NORMAL}: ZERO (no limit) or 1 ms to 365 days. Default 24 h. */
        public Builder maxConnectionLifetime(Duration lifetime) {
            maxConnectionLifetime = timer("maxConnectionLifetime", lifetime);
            return this;
        }

        /** Maximum age under {@code EXTENDED}: ZERO (no limit) or 1 ms to 365 days. Default 7 days. */
        public Builder extendedKeepAliveLifetime(Duration lifetime) {
            extendedKeepAliveLifetime = timer("extendedKeepAliveLifetime", lifetime);
            return this;
        }

        /** Backend connect timeout: 1 ms to 10 min. Default 30 s. */
        public Builder connectTimeout(Duration timeout) {
            connectTimeout = checkConnectTimeout(timeout);
            return this;
        }

        /**
         * Time allowed for a complete ClientHello, and again for the rest of the TLS handshake on
         * routes that terminate TLS: 1 ms to 1 h. Default 60 s. It cannot be turned off.
         */
        public Builder initialDataTimeout(Duration timeout) {
            initialDataTimeout = checkInitialDataTimeout(timeout);
            return this;
        }

        /**
         * Largest ClientHello accepted: 512 bytes to 16 MiB - 1. Default 64 KiB. Above 64 KiB,
         * raise {@link #maxPendingDataSize} too ({@link #build()} checks it).
         */
        public Builder maxClientHelloSize(int bytes) {
            maxClientHelloSize = checkMaxClientHelloSize(bytes);
            return this;
        }

        /** Client bytes held per connection during the backend connect: 1 KiB to 1 GiB. Default 64 KiB. */
        public Builder maxPendingDataSize(long bytes) {
            maxPendingDataSize = checkMaxPendingDataSize(bytes);
            return this;
        }

        /**
         * Proxy-wide bytes held for clients: 64 KiB to 1 TiB. Default a quarter of the JVM's
         * direct memory, 4 MiB to 1 GiB; see {@link ConnectionPolicy#bufferBudget()}.
         */
        public Builder bufferBudget(long bytes) {
            bufferBudget = checkBufferBudget(bytes);
            return this;
        }

        /** Half-close grace for TLS connections: ZERO (off) or 1 ms to 365 days. Default 5 min. */
        public Builder halfCloseGraceTls(Duration grace) {
            halfCloseGraceTls = timer("halfCloseGraceTls", grace);
            return this;
        }

        /** Half-close grace for plain connections: ZERO (off) or 1 ms to 365 days. Default 30 s. */
        public Builder halfCloseGracePlain(Duration grace) {
            halfCloseGracePlain = timer("halfCloseGracePlain", grace);
            return this;
        }

        /**
         * TCP keepalive for both legs. Default {@link TcpKeepAlive#defaults()}. Its idle time and
         * interval are whole seconds (the kernel's unit).
         */
        public Builder tcpKeepAlive(TcpKeepAlive keepAlive) {
            tcpKeepAlive = Objects.requireNonNull(keepAlive, "tcpKeepAlive");
            return this;
        }

        /** Drain time on {@code close()}: ZERO (none) or 1 ms to 1 h. Default 30 s. */
        public Builder gracefulShutdownTimeout(Duration timeout) {
            gracefulShutdownTimeout = checkGracefulShutdownTimeout(timeout);
            return this;
        }

        /**
         * Overrides for {@code PASSTHROUGH} connections, edited in place (a route's own overrides
         * win over them). Default none.
         */
        public Builder passthroughOverrides(Consumer<RoutePolicy.Builder> edit) {
            passthroughOverrides = edit(passthroughOverrides, edit);
            return this;
        }

        /** Overrides for {@code TERMINATED} connections, edited in place; see {@link #passthroughOverrides}. */
        public Builder terminatedOverrides(Consumer<RoutePolicy.Builder> edit) {
            terminatedOverrides = edit(terminatedOverrides, edit);
            return this;
        }

        /** Overrides for {@code PLAIN} connections, edited in place; see {@link #passthroughOverrides}. */
        public Builder plainOverrides(Consumer<RoutePolicy.Builder> edit) {
            plainOverrides = edit(plainOverrides, edit);
            return this;
        }

        private static RoutePolicy edit(RoutePolicy current, Consumer<RoutePolicy.Builder> edit) {
            RoutePolicy.Builder b = current.toBuilder();
            Objects.requireNonNull(edit, "edit").accept(b);
            return b.build();
        }

        /**
         * Builds the policy.
         *
         * @throws IllegalArgumentException if {@code inactivityTimeout x keepAliveInactivityMultiplier}
         *         exceeds 365 days under {@code EXTENDED} (also under a kind's overrides), or
         *         {@code maxPendingDataSize} is smaller than {@code maxClientHelloSize}
         */
        public ConnectionPolicy build() {
            return new ConnectionPolicy(inactivityTimeout, keepAliveTreatment, keepAliveInactivityMultiplier, extendedKeepAliveGrace, maxConnectionLifetime, extendedKeepAliveLifetime, connectTimeout, initialDataTimeout, maxClientHelloSize, maxPendingDataSize, bufferBudget, halfCloseGraceTls, halfCloseGracePlain, tcpKeepAlive, gracefulShutdownTimeout, passthroughOverrides, terminatedOverrides, plainOverrides);
        }
    }
}
