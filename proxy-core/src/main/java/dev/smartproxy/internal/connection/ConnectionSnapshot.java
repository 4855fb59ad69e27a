package dev.smartproxy.internal.connection;

import dev.smartproxy.config.EffectivePolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** The proxy's {@link ConnectionInfo}: a snapshot made by {@link ManagedConnection#info()}. */
final class ConnectionSnapshot implements ConnectionInfo {
    private final long id;
    private final int routePort;
    private final InetSocketAddress clientAddress;
    private final ConnectionKind kind;
    private final String routeName;
    private final String sni;
    private final InetSocketAddress backendAddress;
    private final long bytesFromClient;
    private final long bytesFromBackend;
    private final long bufferedBytes;
    private final Instant openedAt;
    private final Instant lastActivityAt;
    private final EffectivePolicy policy;
    private final boolean webSocket;
    private final CloseReason closeReason;

    ConnectionSnapshot(long id, int routePort, InetSocketAddress clientAddress, ConnectionKind kind,
                       String routeName, String sni, InetSocketAddress backendAddress, long bytesFromClient,
                       long bytesFromBackend, long bufferedBytes, Instant openedAt, Instant lastActivityAt,
                       EffectivePolicy policy, boolean webSocket, CloseReason closeReason) {
        this.id = id;
        this.routePort = routePort;
        this.clientAddress = clientAddress;
        this.kind = kind;
        this.routeName = routeName;
        this.sni = sni;
        this.backendAddress = backendAddress;
        this.bytesFromClient = bytesFromClient;
        this.bytesFromBackend = bytesFromBackend;
        this.bufferedBytes = bufferedBytes;
        this.openedAt = Objects.requireNonNull(openedAt, "openedAt");
        this.lastActivityAt = Objects.requireNonNull(lastActivityAt, "lastActivityAt");
        this.policy = policy;
        this.webSocket = webSocket;
        this.closeReason = closeReason;
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public int routePort() {
        return routePort;
    }

    @Override
    public InetSocketAddress clientAddress() {
        return clientAddress;
    }

    @Override
    public Optional<ConnectionKind> kind() {
        return Optional.ofNullable(kind);
    }

    @Override
    public Optional<String> routeName() {
        return Optional.ofNullable(routeName);
    }

    @Override
    public Optional<String> sni() {
        return Optional.ofNullable(sni);
    }

    @Override
    public Optional<InetSocketAddress> backendAddress() {
        return Optional.ofNullable(backendAddress);
    }

    @Override
    public long bytesFromClient() {
        return bytesFromClient;
    }

    @Override
    public long bytesFromBackend() {
        return bytesFromBackend;
    }

    @Override
    public long bufferedBytes() {
        return bufferedBytes;
    }

    @Override
    public Instant openedAt() {
        return openedAt;
    }

    @Override
    public Instant lastActivityAt() {
        return lastActivityAt;
    }

    @Override
    public Optional<EffectivePolicy> policy() {
        return Optional.ofNullable(policy);
    }

    @Override
    public boolean webSocket() {
        return webSocket;
    }

    @Override
    public Optional<CloseReason> closeReason() {
        return Optional.ofNullable(closeReason);
    }

    @Override
    public String toString() {
        return "Connection#" + id + "[" + (kind == null ? "unrouted" : kind) + " port=" + routePort
                + " client=" + clientAddress + (routeName == null ? "" : " route=" + routeName)
                + (sni == null ? "" : " sni=" + sni) + (backendAddress == null ? "" : " backend=" + backendAddress)
                + (webSocket ? " websocket" : "") + " in=" + bytesFromClient + " out=" + bytesFromBackend
                + (closeReason == null ? "" : " closed=" + closeReason) + "]";
    }
}
