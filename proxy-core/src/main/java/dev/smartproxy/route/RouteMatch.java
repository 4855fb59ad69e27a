package dev.smartproxy.route;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The conditions a connection must meet for a route to take it. All given conditions must hold.
 *
 * <ul>
 *   <li><b>ports</b> (required): the route ports the connection may arrive on;</li>
 *   <li><b>domains</b> (optional): SNI name patterns, any one of which must match
 *       ({@link DomainPattern}). A route with domains needs the client's TLS ClientHello and
 *       never matches a connection without SNI;</li>
 *   <li><b>clientIps</b> (optional): address and CIDR patterns, any one of which must match
 *       the client address ({@link IpPattern}).</li>
 *   <li><b>paths</b> (optional, HTTP routes only): request path patterns, any one of which must
 *       match ({@link PathPattern});</li>
 *   <li><b>headers</b> (optional, HTTP routes only): request headers that must all be present
 *       with exactly these values (names case-insensitive).</li>
 * </ul>
 * For HTTP requests the domains are matched against the request's {@code Host}.
 * <pre>{@code
 * RouteMatch m = RouteMatch.builder().ports(443).portRange(8443, 8444)
 *     .domains("example.com", "*.example.com").clientIps("10.0.0.0/8").build();
 * }</pre>
 */
public final class RouteMatch {
    private final PortSet ports;
    private final List<DomainPattern> domains;
    private final List<IpPattern> clientIps;
    private final List<PathPattern> paths;
    private final Map<String, String> headers;

    private RouteMatch(Builder b) {
        this.ports = b.ports;
        this.domains = List.copyOf(b.domains);
        this.clientIps = List.copyOf(b.clientIps);
        this.paths = List.copyOf(b.paths);
        this.headers = Map.copyOf(b.headers);
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The route ports. */
    public PortSet ports() {
        return ports;
    }

    /** The SNI patterns; empty means the route does not look at SNI. */
    public List<DomainPattern> domains() {
        return domains;
    }

    /** The client address patterns; empty means any client. */
    public List<IpPattern> clientIps() {
        return clientIps;
    }

    /** The request path patterns; empty means any path. */
    public List<PathPattern> paths() {
        return paths;
    }

    /** Required request headers: lower-case name to exact value; empty means none. */
    public Map<String, String> headers() {
        return headers;
    }

    /** Whether the match has conditions only an HTTP request can meet (paths or headers). */
    public boolean needsHttpRequest() {
        return !paths.isEmpty() || !headers.isEmpty();
    }

    /** Whether an HTTP request with this path and these headers (lower-case names) passes. */
    boolean matchesRequest(String path, Map<String, String> requestHeaders) {
        if (!paths.isEmpty() && paths.stream().noneMatch(p -> p.matches(path))) {
            return false;
        }
        for (Map.Entry<String, String> h : headers.entrySet()) {
            if (!h.getValue().equals(requestHeaders.get(h.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** Whether the route can only be chosen once the ClientHello has been read. */
    public boolean needsSni() {
        return !domains.isEmpty();
    }

    /**
     * Whether a connection on {@code port} from {@code client} passes the port and IP conditions
     * (a null client passes only when the route names no client addresses).
     */
    public boolean matchesPortAndClient(int port, InetAddress client) {
        if (!ports.contains(port)) {
            return false;
        }
        if (clientIps.isEmpty()) {
            return true;
        }
        for (IpPattern p : clientIps) {
            if (p.matches(client)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code sni} passes the domain condition; a route without domains ignores SNI. */
    boolean matchesSni(String sni) {
        if (domains.isEmpty()) {
            return true;
        }
        for (DomainPattern d : domains) {
            if (d.matches(sni)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RouteMatch other && ports.equals(other.ports) && domains.equals(other.domains)
                && clientIps.equals(other.clientIps) && paths.equals(other.paths) && headers.equals(other.headers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(ports, domains, clientIps, paths, headers);
    }

    @Override
    public String toString() {
        return "ports=" + ports + (domains.isEmpty() ? "" : " domains=" + domains)
                + (clientIps.isEmpty() ? "" : " clientIps=" + clientIps) + (paths.isEmpty() ? "" : " paths=" + paths)
                + (headers.isEmpty() ? "" : " headers=" + headers);
    }

    /** Builds a {@link RouteMatch}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private PortSet ports;
        private final List<DomainPattern> domains = new ArrayList<>();
        private final List<IpPattern> clientIps = new ArrayList<>();
        private final List<PathPattern> paths = new ArrayList<>();
        private final Map<String, String> headers = new LinkedHashMap<>();

        private Builder() {
        }

        /** Adds request path patterns (HTTP routes only): {@code *}, {@code /api/}, {@code /users/:id}. */
        public Builder paths(String... patterns) {
            Objects.requireNonNull(patterns, "paths");
            Arrays.stream(patterns).map(PathPattern::of).forEach(paths::add);
            return this;
        }

        /** Requires a request header with exactly this value (HTTP routes only; name case-insensitive). */
        public Builder header(String name, String value) {
            Objects.requireNonNull(name, "header name");
            Objects.requireNonNull(value, "header value");
            if (name.isBlank() || !name.chars().allMatch(c -> c > 32 && c < 127 && c != ':')) {
                throw new IllegalArgumentException("header name: '" + name + "' (expected: an HTTP header name)");
            }
            headers.put(name.toLowerCase(java.util.Locale.ROOT), value);
            return this;
        }

        /** Adds single ports (1..65535). */
        public Builder ports(int... ports) {
            return ports(PortSet.of(ports));
        }

        /** Adds the ports of {@code set}. */
        public Builder ports(PortSet set) {
            Objects.requireNonNull(set, "ports");
            this.ports = this.ports == null ? set : this.ports.union(set);
            return this;
        }

        /** Adds ports parsed from text such as {@code "80,443,8000-8099"}. */
        public Builder ports(String spec) {
            return ports(PortSet.parse(spec));
        }

        /** Adds the inclusive range {@code from..to}. */
        public Builder portRange(int from, int to) {
            return ports(PortSet.range(from, to));
        }

        /** Adds SNI patterns: exact names, {@code *.example.com} or {@code *}. */
        public Builder domains(String... patterns) {
            Objects.requireNonNull(patterns, "domains");
            Arrays.stream(patterns).map(DomainPattern::of).forEach(domains::add);
            return this;
        }

        /** Adds client address patterns: addresses or CIDR blocks, IPv4 or IPv6. */
        public Builder clientIps(String... patterns) {
            Objects.requireNonNull(patterns, "clientIps");
            Arrays.stream(patterns).map(IpPattern::of).forEach(clientIps::add);
            return this;
        }

        /**
         * Builds the match.
         *
         * @throws IllegalArgumentException if no port was given
         */
        public RouteMatch build() {
            if (ports == null) {
                throw new IllegalArgumentException("ports: none (expected: at least one port in 1..65535)");
            }
            return new RouteMatch(this);
        }
    }
}
