package dev.smartproxy.route;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;

/**
 * What a live route update ({@code SmartProxy.updateRoutes}) does to the open connections of a
 * route it removes or changes. Connections of routes the update leaves as they are are never
 * touched, whatever their retirement says.
 *
 * <ul>
 *   <li>{@link #keep()}, the default: the connections stay until they end by their own policy
 *       (inactivity, lifetime, a peer closing); nothing is closed for the update.</li>
 *   <li>{@link #drain(Duration)}: each connection is closed with reason {@code ROUTE_REMOVED} or
 *       {@code ROUTE_CHANGED} when {@code deadline} has passed since the update, unless it ended
 *       first.</li>
 *   <li>{@link #close()}: each connection is closed at once, with that reason.</li>
 * </ul>
 * For a REMOVED route the removed route's retirement decides (reason {@code ROUTE_REMOVED}); for
 * a CHANGED route (same name, another definition) the NEW definition's retirement decides (reason
 * {@code ROUTE_CHANGED}). A route that differs only in its retirement is not changed.
 * <pre>{@code
 * Route.named("api").match(m -> m.ports(443).domains("api.example.com"))
 *     .forward(f -> f.target("10.0.0.5", 8443).tls(TlsMode.PASSTHROUGH))
 *     .retirement(RouteRetirement.drain(Duration.ofMinutes(5)))
 * }</pre>
 * Immutable.
 */
public final class RouteRetirement {
    /** The shortest drain deadline: 1 ms. */
    public static final Duration MIN_DRAIN = Duration.ofMillis(1);
    /** The longest drain deadline: 7 days. */
    public static final Duration MAX_DRAIN = Duration.ofDays(7);

    private static final RouteRetirement KEEP = new RouteRetirement(Mode.KEEP, Duration.ZERO);
    private static final RouteRetirement CLOSE = new RouteRetirement(Mode.CLOSE, Duration.ZERO);

    /** The three choices. */
    public enum Mode {
        /** Connections stay until they end by their own policy. */
        KEEP,
        /** Connections are closed after a deadline unless they end first. */
        DRAIN,
        /** Connections are closed at once. */
        CLOSE
    }

    private final Mode mode;
    private final Duration deadline;

    private RouteRetirement(Mode mode, Duration deadline) {
        this.mode = mode;
        this.deadline = deadline;
    }

    /** Connections stay until they end by their own policy: the default. */
    public static RouteRetirement keep() {
        return KEEP;
    }

    /**
     * Connections are closed {@code deadline} after the update, unless they ended first.
     *
     * @throws IllegalArgumentException unless {@code deadline} is 1 ms to 7 days
     */
    public static RouteRetirement drain(Duration deadline) {
        return new RouteRetirement(Mode.DRAIN,
                Checks.duration("retirement drain deadline", deadline, MIN_DRAIN, MAX_DRAIN, false));
    }

    /** Connections are closed at once. */
    public static RouteRetirement close() {
        return CLOSE;
    }

    /** Which choice this is. */
    public Mode mode() {
        return mode;
    }

    /** The drain deadline; {@link Duration#ZERO} for {@code KEEP} and {@code CLOSE}. */
    public Duration deadline() {
        return deadline;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RouteRetirement r && mode == r.mode && deadline.equals(r.deadline);
    }

    @Override
    public int hashCode() {
        return Objects.hash(mode, deadline);
    }

    @Override
    public String toString() {
        return mode == Mode.DRAIN ? "drain(" + Checks.format(deadline) + ")" : mode.name().toLowerCase();
    }
}
