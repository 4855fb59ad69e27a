package dev.smartproxy.internal.websocket;

import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.metrics.MetricsRecorder;

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

    /**
     * Frames are being relayed, from the client ({@code true}) or the backend: {@code messages}
     * of them start a data message (text or binary opcode), with {@code payloadBytes} of payload in all.
     */
    void relayed(boolean fromClientLeg, int messages, int payloadBytes) {
        if (messages != 0) {
            metrics.webSocketMessages(fromClientLeg, messages); // one add for the frames of a read
        }
        if (fromClientLeg) {
            fromClient += messages;
        } else {
            fromBackend += messages;
            conn.wroteToClient(payloadBytes); // payload, as the reads are counted
        }
    }

    /** A peer sent Close with this (unmasked) payload; its first code is kept. Returns the code, 0 without one. */
    int closeReceived(boolean fromClientLeg, byte[] payload) {
        int code = payload.length < 2 ? 0 : ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
        if (fromClientLeg && clientCloseCode == 0) {
            clientCloseCode = code;
        } else if (!fromClientLeg && backendCloseCode == 0) {
            backendCloseCode = code;
        }
        return code;
    }

    /** Both channels are closed: the close event, once. */
    void ended() {
        if (!reported) {
            reported = true;
            conn.telemetry().webSocketClosed(conn, clientCloseCode, backendCloseCode, fromClient, fromBackend);
        }
    }
}
