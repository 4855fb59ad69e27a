package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.metrics.MetricsRecorder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * What one {@link WebSocketRelay} reports: data messages relayed each way (a message counts once,
 * on its first frame; continuations do not), payload bytes written to the client, the first
 * Close code each peer sent, and the close event once both channels are gone. Per relay, on its
 * event loop.
 */
final class WebSocketTally {
    private final ManagedConnection conn;
    private final MetricsRecorder metrics;
    private long fromClient;
    private long fromBackend;
    private int clientCloseCode;
    private int backendCloseCode;
    private boolean reported;

    WebSocketTally(ManagedConnection conn) {
        this.conn = conn;
        this.metrics = conn.telemetry().metrics();
    }

    /** {@code frame} is being relayed, from the client ({@code true}) or the backend. */
    void relayed(boolean fromClientLeg, WebSocketFrame frame) {
        if (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame) {
            metrics.webSocketMessage(fromClientLeg);
            if (fromClientLeg) {
                fromClient++;
            } else {
                fromBackend++;
            }
        }
        if (!fromClientLeg) {
            conn.wroteToClient(frame.content().readableBytes()); // payload, as the reads are counted
        }
    }

    /** A peer sent Close; its first code is kept (0 for a Close without one). */
    void closeReceived(boolean fromClientLeg, CloseWebSocketFrame frame) {
        int code = Math.max(0, frame.statusCode());
        if (fromClientLeg && clientCloseCode == 0) {
            clientCloseCode = code;
        } else if (!fromClientLeg && backendCloseCode == 0) {
            backendCloseCode = code;
        }
    }

    /** Both channels are closed: the close event, once. */
    void ended() {
        if (!reported) {
            reported = true;
            conn.telemetry().webSocketClosed(conn, clientCloseCode, backendCloseCode, fromClient, fromBackend);
        }
    }
}
