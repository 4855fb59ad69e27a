package dev.smartproxy.route;

import dev.smartproxy.internal.Checks;

import java.net.InetAddress;
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
 */
public record RouteRequest(int port, InetAddress clientAddress, String sni) {

    /** Validates and normalises the request. */
    public RouteRequest {
        PortSet.checkPort("port", port);
        if (sni != null) {
            sni = DomainPattern.normalize(sni);
            if (sni.isEmpty()) {
                sni = null;
            }
        }
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

        private Builder() {
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
            return new RouteRequest(port, clientAddress, sni);
        }
    }
}
