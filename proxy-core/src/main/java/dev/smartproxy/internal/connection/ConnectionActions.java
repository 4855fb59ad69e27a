package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;

/** What the connection manager asks of a connection's channels when a timer expires. */
@FunctionalInterface
public interface ConnectionActions {
    /** Closes both legs; {@code reason} is already recorded. */
    void close(CloseReason reason);
}
