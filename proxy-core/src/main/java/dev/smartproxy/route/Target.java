package dev.smartproxy.route;

import java.util.Objects;

/**
 * Where a forwarding route sends a connection: a host and a port, or a host and "the port the
 * client connected to".
 *
 * <p>The host is a name or an IP literal; names are resolved when a connection is forwarded.
 * <pre>{@code
 * Target fixed = Target.of("backend.internal", 8443);
 * Target mirror = Target.sameAsClientPort("backend.internal"); // 443 -> 443, 8080 -> 8080
 * }</pre>
 */
public final class Target {
    private static final int SAME_PORT = 0;

    private final String host;
    private final int port;

    private Target(String host, int port) {
        this.host = host;
        this.port = port;
    }

    /**
     * A fixed host and port.
     *
     * @throws IllegalArgumentException if the host is blank or the port is outside 1..65535
     */
    public static Target of(String host, int port) {
        PortSet.checkPort("target port", port);
        return new Target(checkHost(host), port);
    }

    /**
     * A host, reached on the route port the client connected to. That is the port the route
     * matched ({@link RouteRequest#port()}), not an ephemeral port a test or embedding
     * application bound instead.
     */
    public static Target sameAsClientPort(String host) {
        return new Target(checkHost(host), SAME_PORT);
    }

    private static String checkHost(String host) {
        Objects.requireNonNull(host, "target host");
        String h = host.strip();
        if (h.isEmpty()) {
            throw new IllegalArgumentException("target host: '" + host + "' (expected: a host name or IP address)");
        }
        return h;
    }

    /** The host name or IP literal. */
    public String host() {
        return host;
    }

    /** Whether the port is the one the client connected to. */
    public boolean usesClientPort() {
        return port == SAME_PORT;
    }

    /** The port to connect to for a connection that arrived on route port {@code clientPort}. */
    public int portFor(int clientPort) {
        return usesClientPort() ? clientPort : port;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Target other && host.equals(other.host) && port == other.port;
    }

    @Override
    public int hashCode() {
        return host.hashCode() * 31 + port;
    }

    @Override
    public String toString() {
        return host + ":" + (usesClientPort() ? "<client port>" : Integer.toString(port));
    }
}
