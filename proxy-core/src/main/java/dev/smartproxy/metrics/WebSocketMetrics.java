package dev.smartproxy.metrics;

/**
 * WebSockets the proxy reads (terminated or plain HTTP upgrades; a WebSocket inside a passthrough
 * or raw TCP relay is invisible to the proxy and not counted).
 *
 * @param open                 upgraded and open now
 * @param upgraded             upgraded since start
 * @param messagesFromClients  data messages (text and binary, fragments counted once per message)
 *                             relayed from clients to backends
 * @param messagesFromBackends data messages relayed from backends to clients
 * @param heartbeatTimeouts    connections closed because a peer stopped answering the proxy's pings
 */
public record WebSocketMetrics(long open, long upgraded, long messagesFromClients, long messagesFromBackends,
                               long heartbeatTimeouts) {
    /** Nothing counted. */
    public static final WebSocketMetrics ZERO = new WebSocketMetrics(0, 0, 0, 0, 0);
}
