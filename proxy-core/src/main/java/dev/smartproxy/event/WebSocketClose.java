package dev.smartproxy.event;

/**
 * How a WebSocket the proxy reads ended.
 *
 * @param clientCloseCode     the status code of the close frame the client sent; 0 if it sent
 *                            none (or one without a code, which counts as 1005 in RFC 6455 and is
 *                            reported as 0 here)
 * @param backendCloseCode    the status code of the close frame the backend sent; 0 if none
 * @param messagesFromClient  data messages relayed from the client
 * @param messagesFromBackend data messages relayed from the backend
 */
public record WebSocketClose(int clientCloseCode, int backendCloseCode, long messagesFromClient,
                             long messagesFromBackend) {
}
