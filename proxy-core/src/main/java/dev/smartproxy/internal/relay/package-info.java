/**
 * The TCP relay: the branch of forward routes that relay bytes (passthrough and plain TCP).
 * {@link dev.smartproxy.internal.relay.TcpRelay} on the client channel (connect, pending
 * bytes under the buffer budget, backpressure, half-close, reset mirroring) and
 * {@link dev.smartproxy.internal.relay.BackendRelay} on the backend channel. Never imports the
 * accept path ({@code internal.pipeline}), which installs it.
 */
package dev.smartproxy.internal.relay;
