package dev.smartproxy.route;

import dev.smartproxy.config.RoutePolicy;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * One routing rule: a name, a priority, the conditions a connection must meet and the action
 * taken on it. Immutable.
 *
 * <p>Routes are tried by priority, highest first (default 0); routes of equal priority are
 * tried in declaration order. The first route whose {@link RouteMatch} holds takes the
 * connection (see {@link RouteTable}).
 * <pre>{@code
 * Route r = Route.named("websocket-passthrough")
 *     .priority(10)
 *     .match(m -> m.ports(443).domains("ws.example.com"))
 *     .forward(f -> f.target("backend", 443).tls(TlsMode.PASSTHROUGH))
 *     .build();
 * }</pre>
 */
public final class Route {
    private final String name;
    private final int priority;
    private final RouteMatch match;
    private final RouteAction action;
    private final RoutePolicy policy;
    private final RouteSecurity security;
    private final RouteRetirement retirement;

    private Route(Builder b) {
        this.retirement = b.retirement;
        this.policy = b.policy;
        this.security = b.security;
        this.name = b.name;
        this.priority = b.priority;
        this.match = b.match;
        this.action = b.action;
    }

    /** Starts a route with the given name: non-blank, unique within a proxy, used in logs and events. */
    public static Builder named(String name) {
        return new Builder(name);
    }

    /** The route's name. */
    public String name() {
        return name;
    }

    /** The priority; higher is tried first. Default 0. */
    public int priority() {
        return priority;
    }

    /** The match conditions. */
    public RouteMatch match() {
        return match;
    }

    /** The action. */
    public RouteAction action() {
        return action;
    }

    /** Overrides of the proxy's connection policy for this route's connections; none by default. */
    public RoutePolicy policy() {
        return policy;
    }

    /** Who may use this route: IP allow/block lists and a connection maximum; none by default. */
    public RouteSecurity security() {
        return security;
    }

    /**
     * What a live route update does to this route's open connections when it removes the route,
     * or (the new definition's) when it changes it; {@link RouteRetirement#keep()} by default.
     */
    public RouteRetirement retirement() {
        return retirement;
    }

    /**
     * Whether {@code other} is this route apart from its {@linkplain #retirement() retirement}:
     * same name, priority, match, action, policy and security. A live route update that finds a
     * route of the same name for which this is false has CHANGED it.
     */
    public boolean sameDefinition(Route other) {
        return other == this || other != null && name.equals(other.name) && priority == other.priority
                && match.equals(other.match) && action.equals(other.action) && policy.equals(other.policy)
                && security.equals(other.security);
    }

    /** Equal when {@linkplain #sameDefinition the same definition} with the same retirement. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Route other && sameDefinition(other) && retirement.equals(other.retirement);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, priority, match, action, policy, security, retirement);
    }

    @Override
    public String toString() {
        return "Route[" + name + " priority=" + priority + " " + match + " -> " + action
                + (policy.equals(RoutePolicy.none()) ? "" : " " + policy)
                + (security.isEmpty() ? "" : " " + security)
                + (retirement.equals(RouteRetirement.keep()) ? "" : " retirement=" + retirement) + "]";
    }

    /** Builds a {@link Route}. Each setter validates at once. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private int priority;
        private RouteMatch match;
        private RouteAction action;
        private RoutePolicy policy = RoutePolicy.none();
        private RouteSecurity security = RouteSecurity.none();
        private RouteRetirement retirement = RouteRetirement.keep();

        private Builder(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("route name: '" + name + "' (expected: a non-blank name)");
            }
            this.name = name.strip();
        }

        /** Sets the priority (default 0); higher is tried first. */
        public Builder priority(int priority) {
            this.priority = priority;
            return this;
        }

        /** Configures the match conditions. */
        public Builder match(Consumer<RouteMatch.Builder> spec) {
            RouteMatch.Builder b = RouteMatch.builder();
            spec.accept(b);
            return match(b.build());
        }

        /** Sets the match conditions. */
        public Builder match(RouteMatch match) {
            this.match = Objects.requireNonNull(match, "match");
            return this;
        }

        /** Configures a forward action. */
        public Builder forward(Consumer<ForwardAction.Builder> spec) {
            ForwardAction.Builder b = ForwardAction.builder();
            spec.accept(b);
            return action(b.build());
        }

        /** Overrides the proxy's keepalive treatment, inactivity timeout or lifetime for this route. */
        public Builder policy(Consumer<RoutePolicy.Builder> spec) {
            RoutePolicy.Builder b = RoutePolicy.builder();
            spec.accept(b);
            return policy(b.build());
        }

        /** Sets this route's policy overrides. */
        public Builder policy(RoutePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Sets who may use this route (see {@link RouteSecurity}): IP allow and block lists and a
         * connection maximum, e.g. {@code security(s -> s.ipAllowList("10.0.0.0/8").maxConnections(500))}.
         */
        public Builder security(Consumer<RouteSecurity.Builder> spec) {
            RouteSecurity.Builder b = RouteSecurity.builder();
            spec.accept(b);
            return security(b.build());
        }

        /** Sets this route's security; see {@link RouteSecurity}. */
        public Builder security(RouteSecurity security) {
            this.security = Objects.requireNonNull(security, "security");
            return this;
        }

        /**
         * What a live route update does to this route's open connections if it removes this route,
         * or changes it into this definition: {@link RouteRetirement#keep()} (the default),
         * {@link RouteRetirement#drain(java.time.Duration)} or {@link RouteRetirement#close()}.
         */
        public Builder retirement(RouteRetirement retirement) {
            this.retirement = Objects.requireNonNull(retirement, "retirement");
            return this;
        }

        /** Answers HTTP requests with a redirect to {@code locationTemplate} ({@code {host}}, {@code {path}}, {@code {port}}). */
        public Builder redirect(int status, String locationTemplate) {
            return action(new RedirectAction(status, locationTemplate));
        }

        /** Redirects HTTP to HTTPS, keeping host and path: {@code https://{host}{path}} with 301 or 308. */
        public Builder redirectToHttps(int status) {
            if (status != 301 && status != 308) {
                throw new IllegalArgumentException("redirectToHttps status: " + status + " (expected: 301 or 308)");
            }
            return redirect(status, "https://{host}{path}");
        }

        /** Refuses what this route matches; see {@link BlockAction}. */
        public Builder block() {
            return action(new BlockAction());
        }

        /** Hands matched connections to your code; see {@link ConnectionHandlerFactory}. */
        public Builder handle(ConnectionHandlerFactory factory) {
            return action(new HandlerAction(factory));
        }

        /** Sets the action. */
        public Builder action(RouteAction action) {
            this.action = Objects.requireNonNull(action, "action");
            return this;
        }

        /**
         * Builds the route.
         *
         * @throws IllegalArgumentException if the match or the action is missing
         */
        public Route build() {
            if (match == null) {
                throw new IllegalArgumentException("route '" + name + "' match: none (expected: match(m -> m.ports(...)))");
            }
            if (action == null) {
                throw new IllegalArgumentException("route '" + name + "' action: none (expected: forward(f -> f.target(...)))");
            }
            boolean http = action instanceof RedirectAction || action instanceof BlockAction
                    || (action instanceof ForwardAction f && f.readsHttp());
            if (match.needsHttpRequest() && !http) {
                throw new IllegalArgumentException("route '" + name + "' paths/headers: set on a route that does not read "
                        + "HTTP (expected: a forward with tls(TERMINATE), tls(TERMINATE_AND_REENCRYPT) or http(), "
                        + "a redirect or a block)");
            }
            return new Route(this);
        }
    }
}
