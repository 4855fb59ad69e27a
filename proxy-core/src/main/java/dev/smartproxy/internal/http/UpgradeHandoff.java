package dev.smartproxy.internal.http;

import io.netty.channel.Channel;

/**
 * Takes over a connection upgraded to WebSocket. Called on the client's event loop after the
 * {@code 101 Switching Protocols} response was written and flushed to the client and before the
 * HTTP handlers are removed: the hand-off adds its handlers at the end of both pipelines, and the
 * bytes the HTTP decoders still hold then flow into them. Both channels have {@code autoRead} on
 * when this is called; the hand-off owns both channels (their close included) from then on.
 */
@FunctionalInterface
public interface UpgradeHandoff {
    /** The client channel and the backend channel of the upgraded connection. */
    void upgraded(Channel client, Channel backend);
}
