package dev.smartproxy.route;

import dev.smartproxy.config.BackendTls;
import dev.smartproxy.config.WebSocketSettings;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Forward the connection to one of the targets.
 *
 * <p>With several targets, connections are spread over them round-robin. The TLS mode decides
 * what the proxy sees: {@link TlsMode#PASSTHROUGH} relays the encrypted stream as is;
 * {@link TlsMode#TERMINATE} and {@link TlsMode#TERMINATE_AND_REENCRYPT} end TLS at the proxy and
 * forward HTTP requests (and WebSockets) one by one; no TLS mode relays raw TCP, or plain HTTP
 * request by request when marked {@link Builder#http()}.
 * <pre>{@code
 * Route.named("api")
 *     .match(m -> m.ports(443).domains("api.example.com"))
 *     .forward(f -> f.target("10.0.0.5", 8443).target("10.0.0.6", 8443).tls(TlsMode.PASSTHROUGH));
 * }</pre>
 */
public final class ForwardAction implements RouteAction {
    private final List<Target> targets;
    private final TlsMode tlsMode;
    private final boolean http;
    private final BackendTls backendTls;
    private final WebSocketSettings webSocket;
    private final ProxyProtocol sendProxyProtocol;

    private ForwardAction(Builder b) {
        this.sendProxyProtocol = b.sendProxyProtocol;
        this.backendTls = b.backendTls;
        this.webSocket = b.webSocket;
        this.targets = List.copyOf(b.targets);
        this.tlsMode = b.tlsMode;
        this.http = b.http;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The targets, in declaration order; never empty. */
    public List<Target> targets() {
        return targets;
    }

    /** The TLS mode, or empty for a raw TCP relay. */
    public Optional<TlsMode> tlsMode() {
        return Optional.ofNullable(tlsMode);
    }

    /** TLS towards the backend under {@code TERMINATE_AND_REENCRYPT}. Default {@link BackendTls#systemTrust()}. */
    public BackendTls backendTls() {
        return backendTls;
    }

    /** This route's WebSocket heartbeat and frame settings, if it overrides the proxy's. */
    public Optional<WebSocketSettings> webSocket() {
        return Optional.ofNullable(webSocket);
    }

    /**
     * The PROXY protocol header sent to the backend before the first byte of each backend
     * connection, or empty (the default) for none. See {@link Builder#sendProxyProtocol}.
     */
    public Optional<ProxyProtocol> sendProxyProtocol() {
        return Optional.ofNullable(sendProxyProtocol);
    }

    /**
     * Whether the proxy reads HTTP on these connections: true for {@code TERMINATE} and
     * {@code TERMINATE_AND_REENCRYPT}, and for plain routes marked {@link Builder#http()}.
     */
    public boolean readsHttp() {
        return http || tlsMode == TlsMode.TERMINATE || tlsMode == TlsMode.TERMINATE_AND_REENCRYPT;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ForwardAction other && targets.equals(other.targets) && tlsMode == other.tlsMode
                && http == other.http && sendProxyProtocol == other.sendProxyProtocol
                && Objects.equals(backendTls, other.backendTls) && Objects.equals(webSocket, other.webSocket);
    }

    @Override
    public int hashCode() {
        return Objects.hash(targets, tlsMode, http, sendProxyProtocol, backendTls, webSocket);
    }

    @Override
    public String toString() {
        return "forward" + targets + (tlsMode == null ? (http ? " (http)" : " (tcp)") : " (" + tlsMode + ")")
                + (sendProxyProtocol == null ? "" : " (proxy protocol " + sendProxyProtocol + ")");
    }

    /** Builds a {@link ForwardAction}. Not thread-safe. */
    public static final class Builder {
        private final List<Target> targets = new ArrayList<>();
        private TlsMode tlsMode;
        private boolean http;
        private BackendTls backendTls = BackendTls.systemTrust();
        private WebSocketSettings webSocket;
        private ProxyProtocol sendProxyProtocol;

        private Builder() {
        }

        /**
         * Sends a PROXY protocol header of {@code version} to the backend before the first byte
         * of every backend connection, so that a backend that accepts it (HAProxy
         * {@code accept-proxy}, nginx {@code proxy_protocol}) sees the real client; default: none
         * ({@code null} turns it off again). The header names the client (source) and the
         * proxy's address the client connected to (destination); {@link ProxyProtocol#V2} adds
         * the SNI and the client's TLS. It applies to every route kind: passthrough and raw TCP
         * (one header per connection, before the ClientHello or the first client byte) and routes
         * that read HTTP (one header per backend connection; backend connections are never
         * shared between client connections, so each header describes exactly the client whose
         * requests it carries). A setting of the route, for all its targets. Only for backends
         * that expect the header: any other reads it as the start of the client's bytes.
         * <pre>{@code
         * .forward(f -> f.target("10.0.0.5", 8443).tls(TlsMode.PASSTHROUGH).sendProxyProtocol(ProxyProtocol.V2))
         * }</pre>
         */
        public Builder sendProxyProtocol(ProxyProtocol version) {
            this.sendProxyProtocol = version;
            return this;
        }

        /** TLS towards the backend for {@code TERMINATE_AND_REENCRYPT}; default: the system trust store. */
        public Builder backendTls(BackendTls tls) {
            this.backendTls = Objects.requireNonNull(tls, "backendTls");
            return this;
        }

        /** WebSocket heartbeat and frame limits for this route, overriding the proxy's. */
        public Builder webSocket(WebSocketSettings settings) {
            this.webSocket = Objects.requireNonNull(settings, "webSocket");
            return this;
        }

        /**
         * Reads the connections as HTTP/1.1 (plain HTTP, no TLS): requests are routed one by one
         * by {@code Host}, path and headers, and WebSockets get the proxy's heartbeat. Implied by
         * {@code TERMINATE} and {@code TERMINATE_AND_REENCRYPT}.
         */
        public Builder http() {
            this.http = true;
            return this;
        }

        /** Adds a target host and port. */
        public Builder target(String host, int port) {
            return target(Target.of(host, port));
        }

        /** Adds a target. */
        public Builder target(Target target) {
            targets.add(Objects.requireNonNull(target, "target"));
            return this;
        }

        /** Adds a target reached on the port the client connected to. */
        public Builder targetSameAsClientPort(String host) {
            return target(Target.sameAsClientPort(host));
        }

        /** Sets the TLS mode; {@code null} (the default) relays raw TCP. */
        public Builder tls(TlsMode mode) {
            this.tlsMode = mode;
            return this;
        }

        /**
         * Builds the action.
         *
         * @throws IllegalArgumentException if no target was added
         */
        public ForwardAction build() {
            if (targets.isEmpty()) {
                throw new IllegalArgumentException("targets: none (expected: at least one target)");
            }
            if (webSocket != null && !(http || tlsMode == TlsMode.TERMINATE || tlsMode == TlsMode.TERMINATE_AND_REENCRYPT)) {
                throw new IllegalArgumentException("webSocket: set on a route that does not read HTTP (expected: tls("
                        + "TERMINATE), tls(TERMINATE_AND_REENCRYPT) or http(); passthrough WebSockets are never pinged)");
            }
            if (http && tlsMode == TlsMode.PASSTHROUGH) {
                throw new IllegalArgumentException("http(): with tls PASSTHROUGH (expected: no TLS mode, or TERMINATE;"
                        + " the proxy cannot read HTTP inside a passthrough stream)");
            }
            return new ForwardAction(this);
        }
    }
}
