package dev.smartproxy.internal.http;

import dev.smartproxy.route.ProxyProtocol;
import io.netty.handler.ssl.SslContext;

import java.util.Objects;

/** The outcome of routing one HTTP request. */
public sealed interface HttpRoute {
    /** The name of the route that decided, for logs and events. */
    String routeName();

    /**
     * Forward the request to {@code host:port}; with {@code backendTls} non-null the backend leg
     * is TLS, sending SNI {@code backendSni} (null: the host name); with {@code proxyProtocol}
     * non-null each backend connection opens with that PROXY protocol header.
     */
    record Forward(String routeName, String host, int port, SslContext backendTls, String backendSni,
                   ProxyProtocol proxyProtocol) implements HttpRoute {
        public Forward {
            Objects.requireNonNull(routeName, "routeName");
            Objects.requireNonNull(host, "host");
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port: " + port + " (expected: 1..65535)");
            }
        }

        /** A backend without a PROXY protocol header. */
        public Forward(String routeName, String host, int port, SslContext backendTls, String backendSni) {
            this(routeName, host, port, backendTls, backendSni, null);
        }

        /** A plain-HTTP backend. */
        public Forward(String routeName, String host, int port) {
            this(routeName, host, port, null, null, null);
        }
    }

    /** Answer with a redirect ({@code status} 301, 302, 303, 307 or 308) to {@code location}. */
    record Redirect(String routeName, int status, String location) implements HttpRoute {
        public Redirect {
            Objects.requireNonNull(routeName, "routeName");
            Objects.requireNonNull(location, "location");
            if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
                throw new IllegalArgumentException("status: " + status + " (expected: 301, 302, 303, 307 or 308)");
            }
        }
    }

    /**
     * Answer locally with {@code status} and a short text body (for block actions, or 404 when no
     * route matched), with a {@code Retry-After} of {@code retryAfterSeconds} when it is positive.
     */
    record Respond(String routeName, int status, String reason, long retryAfterSeconds) implements HttpRoute {
        public Respond {
            Objects.requireNonNull(routeName, "routeName");
            if (status < 200 || status > 599) {
                throw new IllegalArgumentException("status: " + status + " (expected: 200..599)");
            }
        }

        /** No {@code Retry-After}. */
        public Respond(String routeName, int status, String reason) {
            this(routeName, status, reason, 0);
        }
    }
}
