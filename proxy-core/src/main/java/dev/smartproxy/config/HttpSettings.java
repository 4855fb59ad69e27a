package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;

/**
 * How the proxy reads and forwards HTTP/1.1 on connections it terminates (after TLS
 * termination, or plain HTTP).
 *
 * <ul>
 *   <li>{@code maxInitialLineLength}: the longest request line accepted; longer ones are answered
 *       400 and the connection is closed. Default 8 KiB, 256 B to 64 KiB.</li>
 *   <li>{@code maxHeaderSize}: the largest header block accepted; larger ones are answered 431
 *       and the connection is closed. Default 16 KiB, 1 KiB to 256 KiB.</li>
 *   <li>{@code maxRequestBodySize}: the largest request body; 0 (the default) means unlimited.
 *       Bodies are always streamed, never buffered whole; a body over the limit is answered 413
 *       (when no response has started yet) and the connection is closed.</li>
 *   <li>{@code responseTimeout}: how long the backend may take, once the whole request is sent,
 *       to send its response headers; past it the client gets 504. Default 60 s, 1 ms to 1 h;
 *       {@link Duration#ZERO} disables it. Only the response headers reset it: a response body
 *       that streams slowly is the inactivity timeout's business.</li>
 *   <li>{@code requestTimeout}: how long a client may take to send a complete request head,
 *       counted from the start of the connection and from the end of each kept-alive exchange:
 *       an idle keep-alive connection, or a request trickling in byte by byte (slowloris), is
 *       closed when it passes (reason {@code REQUEST_TIMEOUT}). Default 60 s, 1 ms to 1 h;
 *       {@link Duration#ZERO} disables it. It does not apply once a WebSocket is upgraded.</li>
 *   <li>{@code requestBodyTimeout}: how long a request body may go without a byte from the client
 *       while the proxy is reading it (time the proxy itself pauses reading, for backpressure,
 *       does not count). Past it the exchange ends with 408 (when no response has started) and
 *       the connection closes (reason {@code REQUEST_TIMEOUT}). Default 60 s (nginx's
 *       {@code client_body_timeout}), 1 ms to 1 h; {@link Duration#ZERO} disables it.</li>
 *   <li>{@code minRequestBodyRate}: the slowest a request body may arrive, in bytes per second,
 *       averaged from the start of the body (or from the moment the proxy last resumed reading
 *       it) once {@code minRequestBodyRateGrace} has passed; slower (a body trickled a byte every
 *       few seconds, which no gap timeout catches) ends the exchange with 408, reason
 *       {@code REQUEST_TIMEOUT}. Default 240 B/s after 5 s (Kestrel's defaults); 0 disables it.</li>
 *   <li>{@code maxHeaderCount}: the most header fields a request may carry; more are answered
 *       431 and the connection is closed. Default 100, 1 to 10,000.</li>
 *   <li>{@code mergeSlashes}: whether runs of {@code /} in a request path are merged into one
 *       before routing and forwarding ({@code //admin} is {@code /admin}). Default true.</li>
 *   <li>{@code encodedSlashes}: what a {@code %2F} or {@code %5C} in a request path does:
 *       {@link EncodedSlashes#REJECT} (the default: 400), {@link EncodedSlashes#DECODE} (it
 *       becomes a {@code /} before the path is normalised) or {@link EncodedSlashes#KEEP} (it
 *       stays, and is not a separator for path rules).</li>
 *   <li>{@code trustForwardedHeaders}: whether {@code X-Forwarded-*} headers sent by the client
 *       are kept (the client address is then appended to {@code X-Forwarded-For}). Default
 *       false: the proxy replaces them (and drops {@code Forwarded}), so a client cannot forge
 *       its address.</li>
 *   <li>{@code backendPoolSize}: how many idle backend connections each I/O thread keeps per
 *       backend (host, port, TLS settings and SNI) for requests of any client connection on that
 *       thread, so that a client that sends one request per connection does not cost a backend
 *       connect and close each time. A connection is kept only if its last response was read to
 *       its end, neither side asked to close it, it was never upgraded, the request was not a
 *       {@code HEAD}, it carried no NTLM or Negotiate authentication (bound to the connection), and
 *       its route sends no PROXY protocol header (that header names one client).
 *       Each I/O thread keeps at most {@value #MAX_POOLED_PER_THREAD} in all. Default 32,
 *       0 to 10,000; 0 disables the pool (a backend connection then lives as long as its client
 *       connection, as before).</li>
 *   <li>{@code backendIdleTimeout}: how long a pooled backend connection may wait unused before it
 *       is closed. Default 4 s, below the 5 s keep-alive timeout common backends (Node.js, Apache
 *       httpd) use, so that the proxy normally closes first; 1 ms to 1 h. A connection the backend
 *       closes while pooled is dropped at once; one it closes just as a request is written is
 *       retried once on a new connection if the request is idempotent and has no body.</li>
 * </ul>
 * <pre>{@code
 * HttpSettings http = HttpSettings.builder()
 *     .maxRequestBodySize(10 * 1024 * 1024)
 *     .responseTimeout(Duration.ofSeconds(30))
 *     .requestTimeout(Duration.ofSeconds(20))
 *     .build();
 * }</pre>
 */
public final class HttpSettings {
    /** What an encoded slash ({@code %2F}) or backslash ({@code %5C}) in a request path does. */
    public enum EncodedSlashes {
        /** The request is refused with 400 (the default): no path rule can be sidestepped with it. */
        REJECT,
        /** It is decoded to {@code /} before the path is normalised, routed and forwarded. */
        DECODE,
        /** It is kept as is: not a separator for path rules, forwarded encoded. */
        KEEP
    }

    /** The most idle backend connections one I/O thread keeps, all backends together. */
    public static final int MAX_POOLED_PER_THREAD = 1024;

    private static final HttpSettings DEFAULTS = builder().build();

    private final int maxInitialLineLength;
    private final int maxHeaderSize;
    private final long maxRequestBodySize;
    private final Duration responseTimeout;
    private final Duration requestTimeout;
    private final boolean trustForwardedHeaders;
    private final Duration requestBodyTimeout;
    private final long minRequestBodyRate;
    private final Duration minRequestBodyRateGrace;
    private final int maxHeaderCount;
    private final boolean mergeSlashes;
    private final EncodedSlashes encodedSlashes;
    private final int backendPoolSize;
    private final Duration backendIdleTimeout;

    private HttpSettings(Builder b) {
        this.backendPoolSize = b.backendPoolSize;
        this.backendIdleTimeout = b.backendIdleTimeout;
        this.requestBodyTimeout = b.requestBodyTimeout;
        this.minRequestBodyRate = b.minRequestBodyRate;
        this.minRequestBodyRateGrace = b.minRequestBodyRateGrace;
        this.maxHeaderCount = b.maxHeaderCount;
        this.mergeSlashes = b.mergeSlashes;
        this.encodedSlashes = b.encodedSlashes;
        this.maxInitialLineLength = b.maxInitialLineLength;
        this.maxHeaderSize = b.maxHeaderSize;
        this.maxRequestBodySize = b.maxRequestBodySize;
        this.responseTimeout = b.responseTimeout;
        this.requestTimeout = b.requestTimeout;
        this.trustForwardedHeaders = b.trustForwardedHeaders;
    }

    /** The defaults: line 8 KiB, headers 16 KiB, body unlimited, response timeout 60 s, forwarded headers not trusted. */
    public static HttpSettings defaults() {
        return DEFAULTS;
    }

    /** A new builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** The longest request line, in bytes. Default 8192. */
    public int maxInitialLineLength() {
        return maxInitialLineLength;
    }

    /** The largest header block, in bytes. Default 16384. */
    public int maxHeaderSize() {
        return maxHeaderSize;
    }

    /** The largest request body in bytes; 0 means unlimited. Default 0. */
    public long maxRequestBodySize() {
        return maxRequestBodySize;
    }

    /** How long a client may take to send a request head (idle keep-alive included); ZERO: no limit. Default 60 s. */
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /** How long to wait for the backend's response headers; ZERO: no limit. Default 60 s. */
    public Duration responseTimeout() {
        return responseTimeout;
    }

    /** Whether the client's {@code X-Forwarded-*} headers are kept and appended to. Default false. */
    public boolean trustForwardedHeaders() {
        return trustForwardedHeaders;
    }

    /** How long a request body may go without a byte while the proxy reads it; ZERO: no limit. Default 60 s. */
    public Duration requestBodyTimeout() {
        return requestBodyTimeout;
    }

    /** The slowest average request-body rate, bytes per second; 0: no minimum. Default 240. */
    public long minRequestBodyRate() {
        return minRequestBodyRate;
    }

    /** How long a body may take before {@link #minRequestBodyRate()} applies. Default 5 s. */
    public Duration minRequestBodyRateGrace() {
        return minRequestBodyRateGrace;
    }

    /** The most header fields a request may carry. Default 100. */
    public int maxHeaderCount() {
        return maxHeaderCount;
    }

    /** Whether runs of {@code /} in a request path are merged. Default true. */
    public boolean mergeSlashes() {
        return mergeSlashes;
    }

    /** What an encoded slash in a request path does. Default {@link EncodedSlashes#REJECT}. */
    public EncodedSlashes encodedSlashes() {
        return encodedSlashes;
    }

    /** Idle backend connections kept per backend and I/O thread; 0: no pool. Default 32. */
    public int backendPoolSize() {
        return backendPoolSize;
    }

    /** How long a pooled backend connection may wait unused. Default 4 s. */
    public Duration backendIdleTimeout() {
        return backendIdleTimeout;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HttpSettings h && maxInitialLineLength == h.maxInitialLineLength
                && maxHeaderSize == h.maxHeaderSize && maxRequestBodySize == h.maxRequestBodySize
                && responseTimeout.equals(h.responseTimeout) && requestTimeout.equals(h.requestTimeout)
                && trustForwardedHeaders == h.trustForwardedHeaders && requestBodyTimeout.equals(h.requestBodyTimeout)
                && minRequestBodyRate == h.minRequestBodyRate && minRequestBodyRateGrace.equals(h.minRequestBodyRateGrace)
                && maxHeaderCount == h.maxHeaderCount && mergeSlashes == h.mergeSlashes
                && encodedSlashes == h.encodedSlashes && backendPoolSize == h.backendPoolSize
                && backendIdleTimeout.equals(h.backendIdleTimeout);
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxInitialLineLength, maxHeaderSize, maxRequestBodySize, responseTimeout, requestTimeout,
                trustForwardedHeaders, requestBodyTimeout, minRequestBodyRate, minRequestBodyRateGrace, maxHeaderCount, mergeSlashes, encodedSlashes,
                backendPoolSize, backendIdleTimeout);
    }

    @Override
    public String toString() {
        return "HttpSettings[maxInitialLineLength=" + maxInitialLineLength + " maxHeaderSize=" + maxHeaderSize
                + " maxRequestBodySize=" + (maxRequestBodySize == 0 ? "unlimited" : maxRequestBodySize)
                + " responseTimeout=" + (responseTimeout.isZero() ? "off" : Checks.format(responseTimeout))
                + " requestTimeout=" + (requestTimeout.isZero() ? "off" : Checks.format(requestTimeout))
                + " requestBodyTimeout=" + (requestBodyTimeout.isZero() ? "off" : Checks.format(requestBodyTimeout))
                + " minRequestBodyRate=" + (minRequestBodyRate == 0 ? "off" : minRequestBodyRate + "B/s after "
                + Checks.format(minRequestBodyRateGrace)) + " maxHeaderCount=" + maxHeaderCount + " mergeSlashes=" + mergeSlashes
                + " encodedSlashes=" + encodedSlashes + " trustForwardedHeaders=" + trustForwardedHeaders
                + " backendPoolSize=" + backendPoolSize + " backendIdleTimeout=" + Checks.format(backendIdleTimeout) + "]";
    }

    /** Builds {@link HttpSettings}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private int maxInitialLineLength = 8 * 1024;
        private int maxHeaderSize = 16 * 1024;
        private long maxRequestBodySize;
        private Duration responseTimeout = Duration.ofSeconds(60);
        private Duration requestTimeout = Duration.ofSeconds(60);
        private boolean trustForwardedHeaders;
        private Duration requestBodyTimeout = Duration.ofSeconds(60);
        private int maxHeaderCount = 100;
        private long minRequestBodyRate = 240;
        private Duration minRequestBodyRateGrace = Duration.ofSeconds(5);
        private boolean mergeSlashes = true;
        private EncodedSlashes encodedSlashes = EncodedSlashes.REJECT;
        private int backendPoolSize = 32;
        private Duration backendIdleTimeout = Duration.ofSeconds(4);

        private Builder() {
        }

        /** The longest request line: 256..65536 bytes. Default 8192. */
        public Builder maxInitialLineLength(int bytes) {
            this.maxInitialLineLength = (int) Checks.range("http.maxInitialLineLength", bytes, 256, 64 * 1024);
            return this;
        }

        /** The largest header block: 1024..262144 bytes. Default 16384. */
        public Builder maxHeaderSize(int bytes) {
            this.maxHeaderSize = (int) Checks.range("http.maxHeaderSize", bytes, 1024, 256 * 1024);
            return this;
        }

        /** The largest request body in bytes, or 0 for unlimited. Default 0. */
        public Builder maxRequestBodySize(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("http.maxRequestBodySize: " + bytes
                        + " (expected: 0 for unlimited, or a positive number of bytes)");
            }
            this.maxRequestBodySize = bytes;
            return this;
        }

        /** Time allowed for the backend's response headers: ZERO to disable, or 1 ms to 1 h. Default 60 s. */
        public Builder responseTimeout(Duration timeout) {
            this.responseTimeout = Checks.duration("http.responseTimeout", timeout, Duration.ofMillis(1),
                    Duration.ofHours(1), true);
            return this;
        }

        /** Time allowed for a complete request head, idle keep-alive included: ZERO to disable, or 1 ms to 1 h. Default 60 s. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = Checks.duration("http.requestTimeout", timeout, Duration.ofMillis(1),
                    Duration.ofHours(1), true);
            return this;
        }

        /** Keep and append to the client's {@code X-Forwarded-*} headers. Default false. */
        public Builder trustForwardedHeaders(boolean trust) {
            this.trustForwardedHeaders = trust;
            return this;
        }

        /**
         * Time a request body may go without a byte while the proxy reads it: ZERO to disable, or
         * 1 ms to 1 h. Default 60 s.
         */
        public Builder requestBodyTimeout(Duration timeout) {
            this.requestBodyTimeout = Checks.duration("http.requestBodyTimeout", timeout, Duration.ofMillis(1),
                    Duration.ofHours(1), true);
            return this;
        }

        /**
         * The slowest average rate a request body may arrive at, once {@code grace} has passed:
         * 0 (no minimum) or 1 to 1 GiB per second, grace 1 ms to 1 h. Default 240 B/s after 5 s.
         */
        public Builder minRequestBodyRate(long bytesPerSecond, Duration grace) {
            this.minRequestBodyRate = Checks.range("http.minRequestBodyRate", bytesPerSecond, 0, 1L << 30);
            this.minRequestBodyRateGrace = Checks.duration("http.minRequestBodyRateGrace", grace, Duration.ofMillis(1),
                    Duration.ofHours(1), false);
            return this;
        }

        /** The most header fields a request may carry: 1..10000. Default 100. */
        public Builder maxHeaderCount(int count) {
            this.maxHeaderCount = (int) Checks.range("http.maxHeaderCount", count, 1, 10_000);
            return this;
        }

        /** Merge runs of {@code /} in request paths before routing and forwarding. Default true. */
        public Builder mergeSlashes(boolean merge) {
            this.mergeSlashes = merge;
            return this;
        }

        /** What an encoded slash ({@code %2F}, {@code %5C}) in a request path does. Default REJECT. */
        public Builder encodedSlashes(EncodedSlashes mode) {
            this.encodedSlashes = Objects.requireNonNull(mode, "http.encodedSlashes");
            return this;
        }

        /**
         * Idle backend connections each I/O thread keeps per backend, for any client connection
         * on that thread: 0 (no pool) to 10000. Default 32.
         */
        public Builder backendPoolSize(int connections) {
            this.backendPoolSize = (int) Checks.range("http.backendPoolSize", connections, 0, 10_000);
            return this;
        }

        /** How long a pooled backend connection may wait unused: 1 ms to 1 h. Default 4 s. */
        public Builder backendIdleTimeout(Duration timeout) {
            this.backendIdleTimeout = Checks.duration("http.backendIdleTimeout", timeout, Duration.ofMillis(1),
                    Duration.ofHours(1), false);
            return this;
        }

        /** Builds the settings. */
        public HttpSettings build() {
            return new HttpSettings(this);
        }
    }
}
