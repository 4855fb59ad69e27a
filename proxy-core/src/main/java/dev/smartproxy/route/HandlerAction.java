package dev.smartproxy.route;

import dev.smartproxy.internal.util.Checks;
import java.util.Objects;

/**
 * Give the connection to user code; see {@link ConnectionHandlerFactory}.
 *
 * @param factory makes the handler for each connection
 */
public record HandlerAction(ConnectionHandlerFactory factory) implements RouteAction {
    /** Checks the factory. */
    public HandlerAction {
        Objects.requireNonNull(factory, "handler factory");
    }
}
