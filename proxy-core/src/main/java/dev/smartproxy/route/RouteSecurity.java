package dev.smartproxy.route;

import java.util.Objects;

/**
 * Who may use one route: IP allow and block lists ({@link IpRules}: block wins) and a maximum of
 * concurrent connections. Checked when the route is chosen for a connection, in addition to the
 * proxy-wide rules checked at accept; the lists apply to what the route matches (its ports and
 * domains), so a route for {@code admin.example.com} can admit only the office while others on
 * the same port stay open. Immutable.
 *
 * <p>A relayed route (passthrough, plain TCP, handler, block) closes a refused connection when it
 * is chosen, with {@code IP_BLOCKED} or {@code ROUTE_CONNECTION_LIMIT}. A route that applies per
 * HTTP request answers the refused request with 403 (IP rules) or 429 with {@code Retry-After}
 * (connection limit) and keeps the connection for requests to other hosts: the connection already
 * passed the proxy-wide rules at accept, and each request is checked against the rules of the
 * route it selects, so no request reaches a route its client may not use. On such routes a
 * connection counts against a route's maximum from its first request there until it closes.
 * <pre>{@code
 * Route.named("admin")
 *     .match(m -> m.ports(443).domains("admin.example.com"))
 *     .security(s -> s.ipAllowList("192.0.2.0/24").ipBlockList("192.0.2.66").maxConnections(200))
 *     .forward(f -> f.target("admin-backend", 443).tls(TlsMode.PASSTHROUGH));
 * }</pre>
 */
public final class RouteSecurity {
    private static final RouteSecurity NONE = new RouteSecurity(IpRules.none(), 0);

    private final IpRules ipRules;
    private final int maxConnections;

    private RouteSecurity(IpRules ipRules, int maxConnections) {
        this.ipRules = ipRules;
        this.maxConnections = maxConnections;
    }

    /** No rules and no limit: the default of every route. */
    public static RouteSecurity none() {
        return NONE;
    }

    /** A builder with no rules and no limit. */
    public static Builder builder() {
        return new Builder();
    }

    /** The route's IP allow and block lists; empty by default. */
    public IpRules ipRules() {
        return ipRules;
    }

    /** Concurrent connections the route takes; 0 (the default) means no limit. */
    public int maxConnections() {
        return maxConnections;
    }

    /** Whether the route has neither rules nor a limit. */
    public boolean isEmpty() {
        return ipRules.isEmpty() && maxConnections == 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RouteSecurity s && ipRules.equals(s.ipRules) && maxConnections == s.maxConnections;
    }

    @Override
    public int hashCode() {
        return Objects.hash(ipRules, maxConnections);
    }

    @Override
    public String toString() {
        return "security[" + ipRules + (maxConnections == 0 ? "" : " maxConnections=" + maxConnections) + "]";
    }

    /** Builds {@link RouteSecurity}; each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private final IpRules.Builder ipRules = IpRules.builder();
        private int maxConnections;

        private Builder() {
        }

        /** Adds addresses or CIDR blocks the route admits (empty: anyone not blocked). */
        public Builder ipAllowList(String... patterns) {
            ipRules.allow(patterns);
            return this;
        }

        /** Adds addresses or CIDR blocks the route refuses; block wins over allow. */
        public Builder ipBlockList(String... patterns) {
            ipRules.block(patterns);
            return this;
        }

        /** Concurrent connections the route takes, 0 (no limit, the default) or more. */
        public Builder maxConnections(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxConnections: " + n + " (expected: 0 (no limit) or more)");
            }
            maxConnections = n;
            return this;
        }

        /** Builds the value. */
        public RouteSecurity build() {
            IpRules rules = ipRules.build();
            return rules.isEmpty() && maxConnections == 0 ? NONE : new RouteSecurity(rules, maxConnections);
        }
    }
}
