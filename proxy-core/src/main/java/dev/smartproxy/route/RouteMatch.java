package dev.smartproxy.route;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
 * </ul>
 * <pre>{@code
 * RouteMatch m = RouteMatch.builder().ports(443).portRange(8443, 8444)
 *     .domains("example.com", "*.example.com").clientIps("10.0.0.0/8").build();
 * }</pre>
 */
public final class RouteMatch {
    private final PortSet ports;
    private final List<DomainPattern> domains;
    private final List<IpPattern> clientIps;

    private RouteMatch(Builder b) {
        this.ports = b.ports;
        this.domains = List.copyOf(b.domains);
        this.clientIps = List.copyOf(b.clientIps);
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

    /** Whether the route can only be chosen once the ClientHello has been read. */
    public boolean needsSni() {
        return !domains.isEmpty();
    }

    /** Whether a connection on {@code port} from {@code client} passes the port and IP conditions. */
    boolean matchesPortAndClient(int port, InetAddress client) {
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
                && clientIps.equals(other.clientIps);
    }

    @Override
    public int hashCode() {
        return Objects.hash(ports, domains, clientIps);
    }

    @Override
    public String toString() {
        return "ports=" + ports + (domains.isEmpty() ? "" : " domains=" + domains)
                + (clientIps.isEmpty() ? "" : " clientIps=" + clientIps);
    }

    /** Builds a {@link RouteMatch}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private PortSet ports;
        private final List<DomainPattern> domains = new ArrayList<>();
        private final List<IpPattern> clientIps = new ArrayList<>();

        private Builder() {
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
