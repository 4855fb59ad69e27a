/**
 * The TCP relay: the branch of forward routes that relay bytes (passthrough and plain TCP).
 * {@link dev.smartproxy.internal.relay.TcpRelay}, one handler on both the client and the backend
 * channel (connect, pending bytes under the buffer budget, backpressure, half-close, reset
 * mirroring). Never imports the accept path ({@code internal.pipeline}), which installs it.
 */
package dev.smartproxy.internal.relay;
