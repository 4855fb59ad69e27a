package dev.smartproxy.config;

/**
 * The Netty transport a proxy runs on.
 *
 * <ul>
 *   <li>{@link #AUTO} (default): native epoll on Linux when its library loads, NIO otherwise;</li>
 *   <li>{@link #EPOLL}: native epoll; {@code start()} fails if it is unavailable;</li>
 *   <li>{@link #NIO}: the JDK's NIO, everywhere.</li>
 * </ul>
 * Only epoll supports {@code TCP_USER_TIMEOUT}.
 */
public enum IoTransport {
    /** Epoll when available, NIO otherwise. */
    AUTO,
    /** Native epoll (Linux). */
    EPOLL,
    /** JDK NIO. */
    NIO
}
