package dev.smartproxy.metrics;

import java.net.InetAddress;

/**
 * A client address and its open connections, for {@link ProxyMetrics#topClients()}.
 *
 * @param address the client's IP (the real client, after a trusted PROXY protocol header)
 * @param open    its connections open now
 */
public record ClientConnections(InetAddress address, long open) {
}
