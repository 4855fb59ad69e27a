package dev.smartproxy.route;

import dev.smartproxy.internal.util.Checks;

import java.net.InetAddress;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What is known about a connection when it is routed: the route port it arrived on, the
 * client address and, for TLS, the SNI name of its ClientHello.
 *
 * <p>The proxy builds one of these for each connection and calls
 * {@link RouteTable#match(RouteRequest)}; tests build them by hand:
 * <pre>{@code
 * RouteRequest r = RouteRequest.builder().port(443).sni("api.example.com").clientAddress("10.1.2.3").build();
 * }</pre>
 *
 * @param port          the route port, 1..65535 (the logical port, even when the listener is
 *                      bound to another one)
 * @param clientAddress the client's address, or null when unknown (then no route with client
 *                      address conditions matches)
 * @param sni           the normalised SNI name (lower case, no trailing dot), or null when the
 *                      connection sent none
 * @param host          for an HTTP request: the normalised {@code Host} (no port), else null
 * @param path          for an HTTP request: the path (no query); null for a connection, which
 *                      makes this a connection-level request
 * @param headers       for an HTTP request: its headers, lower-case names; empty otherwise
 * @param tls           for an HTTP request: whether it came over TLS the proxy terminated (only
 *                      then can a {@code TERMINATE} route take it; only a plain one can go to an
 *                      {@code http()} route)
 */
public record RouteRequest(int port, InetAddress clientAddress, String sni, String host, String path,
                           Map<String, String> headers, boolean tls) {

    /** Validates and normalises the request. */
    public RouteRequest {
        PortSet.checkPort("port", port);
        sni = normalizeName(sni);
        host = normalizeName(host);
        headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    /** A connection-level request: port, client and SNI. */
    public RouteRequest(int port, InetAddress clientAddress, String sni) {
        this(port, clientAddress, sni, null, null, Map.of(), false);
    }

    private static String normalizeName(String name) {
        if (name == null) {
            return null;
        }
        String n = DomainPattern.normalize(name);
        return n.isEmpty() ? null : n;
    }

    /** Whether this describes an HTTP request (it has a path) rather than a connection. */
    public boolean isHttpRequest() {
        return path != null;
    }

    /** The SNI name, if any. */
    public Optional<String> sniName() {
        return Optional.ofNullable(sni);
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link RouteRequest}. Not thread-safe. */
    public static final class Builder {
        private int port;
        private InetAddress clientAddress;
        private String sni;
        private String host;
        private String path;
        private final Map<String, String> headers = new java.util.LinkedHashMap<>();
        private boolean tls;

        private Builder() {
        }

        /** Marks an HTTP request as having come over TLS the proxy terminated. */
        public Builder tls(boolean tls) {
            this.tls = tls;
            return this;
        }

        /** Makes this an HTTP request for {@code host} (the Host header, without port). */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        /** Makes this an HTTP request for {@code path} (a query string is dropped). */
        public Builder path(String path) {
            Objects.requireNonNull(path, "path");
            int q = path.indexOf('?');
            this.path = q < 0 ? path : path.substring(0, q);
            return this;
        }

        /** Adds a request header. */
        public Builder header(String name, String value) {
            headers.put(name.toLowerCase(java.util.Locale.ROOT), value);
            return this;
        }

        /** The route port (required). */
        public Builder port(int port) {
            PortSet.checkPort("port", port);
            this.port = port;
            return this;
        }

        /** The client address. */
        public Builder clientAddress(InetAddress address) {
            this.clientAddress = address;
            return this;
        }

        /** The client address as an IP literal; never looked up in DNS. */
        public Builder clientAddress(String ipLiteral) {
            this.clientAddress = Checks.ipLiteral("clientAddress", ipLiteral);
            return this;
        }

        /** The SNI name, or null for a connection without SNI. */
        public Builder sni(String sni) {
            this.sni = sni;
            return this;
        }

        /**
         * Builds the request.
         *
         * @throws IllegalArgumentException if no port was set
         */
        public RouteRequest build() {
            if (port == 0) {
                throw new IllegalArgumentException("port: not set (expected: 1..65535)");
            }
            if (path == null && (host != null || !headers.isEmpty())) {
                throw new IllegalArgumentException("path: not set (expected: a path for an HTTP request with a host or headers)");
            }
            return new RouteRequest(port, clientAddress, sni, host, path, headers, tls);
        }
    }
}
