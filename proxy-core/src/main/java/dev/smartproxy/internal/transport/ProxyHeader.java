package dev.smartproxy.internal.transport;

import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.ProxyProtocol;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxySSLTLV;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.CharsetUtil;
import io.netty.util.NetUtil;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The PROXY protocol header one backend connection opens with: the version, the client
 * (source), the proxy's address the client connected to (destination) and, for v2, the SNI
 * ({@code PP2_TYPE_AUTHORITY}) and whether the client spoke TLS ({@code PP2_TYPE_SSL}, client
 * flag {@code PP2_CLIENT_SSL}, verify 0, with {@code PP2_SUBTYPE_SSL_VERSION} when the proxy
 * terminated it). Encoded by Netty's {@code HAProxyMessageEncoder}; written by
 * {@link ProxyHeaderWriter} before anything else on the connection.
 *
 * <p>Source and destination of different families (an IPv4 client on an IPv6 listener) are
 * both sent as IPv6, the IPv4 one mapped ({@code ::ffff:a.b.c.d}); a side without an IP address
 * (the local transport) makes the header {@code PROXY UNKNOWN} (v1) or {@code AF_UNSPEC} (v2),
 * which tells the backend to use the connection's own addresses. Immutable.
 *
 * @param version    v1 or v2
 * @param source     the client; null if unknown
 * @param destination the proxy's local address the client connected to; null if unknown
 * @param authority  the SNI the client sent, or null (v2 only)
 * @param tls        whether the client connection was TLS (v2 only)
 * @param tlsVersion the TLS version the proxy negotiated with the client, or null (v2 only)
 */
public record ProxyHeader(ProxyProtocol version, InetSocketAddress source, SocketAddress destination,
                          String authority, boolean tls, String tlsVersion) {
    /** {@code PP2_CLIENT_SSL}: the client connected over TLS. */
    static final byte PP2_CLIENT_SSL = 0x01;

    public ProxyHeader {
        Objects.requireNonNull(version, "version");
    }

    /**
     * The header for a backend connection of {@code conn}, whose client channel is
     * {@code client}: source {@link ManagedConnection#clientAddress()} (the real client, after a
     * PROXY header in), destination the client channel's local address; TLS when the connection
     * was terminated or relayed after a ClientHello (passthrough, or a known SNI).
     */
    public static ProxyHeader of(ProxyProtocol version, ManagedConnection conn, Channel client) {
        String sni = conn.info().sni().orElse(null);
        ConnectionKind kind = conn.kind();
        SslHandler terminated = client.pipeline().get(SslHandler.class);
        String tlsVersion = terminated == null ? null : terminated.engine().getSession().getProtocol();
        boolean tls = terminated != null || kind == ConnectionKind.TERMINATED || kind == ConnectionKind.PASSTHROUGH
                || sni != null;
        return new ProxyHeader(version, conn.clientAddress(), client.localAddress(), sni, tls,
                tlsVersion == null || tlsVersion.isEmpty() || "NONE".equals(tlsVersion) ? null : tlsVersion);
    }

    /**
     * What to write: an {@link HAProxyMessage} for Netty's encoder (the caller owns it, and the
     * encoder releases it), or, for a v1 header without addresses, the bytes of
     * {@code PROXY UNKNOWN\r\n} (Netty's encoder cannot write that line).
     */
    public Object message() {
        InetAddress src = ip(source);
        InetAddress dst = ip(destination);
        if (src == null || dst == null) {
            if (version == ProxyProtocol.V1) {
                return Unpooled.copiedBuffer("PROXY UNKNOWN\r\n", CharsetUtil.US_ASCII);
            }
            return new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.PROXY, HAProxyProxiedProtocol.UNKNOWN,
                    null, null, 0, 0);
        }
        boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
        String s = addressString(src, v4);
        String d = addressString(dst, v4);
        int srcPort = ((InetSocketAddress) source).getPort();
        int dstPort = ((InetSocketAddress) destination).getPort();
        HAProxyProxiedProtocol family = v4 ? HAProxyProxiedProtocol.TCP4 : HAProxyProxiedProtocol.TCP6;
        if (version == ProxyProtocol.V1) {
            return new HAProxyMessage(HAProxyProtocolVersion.V1, HAProxyCommand.PROXY, family, s, d, srcPort, dstPort);
        }
        return new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.PROXY, family, s, d, srcPort, dstPort,
                tlvs());
    }

    private List<HAProxyTLV> tlvs() {
        List<HAProxyTLV> tlvs = new ArrayList<>(2);
        if (authority != null) {
            tlvs.add(new HAProxyTLV(HAProxyTLV.Type.PP2_TYPE_AUTHORITY,
                    Unpooled.copiedBuffer(authority, CharsetUtil.UTF_8)));
        }
        if (tls) {
            List<HAProxyTLV> sub = new ArrayList<>(1);
            if (tlsVersion != null) {
                sub.add(new HAProxyTLV(HAProxyTLV.Type.PP2_TYPE_SSL_VERSION,
                        Unpooled.copiedBuffer(tlsVersion, CharsetUtil.US_ASCII)));
            }
            tlvs.add(new HAProxySSLTLV(0, PP2_CLIENT_SSL, sub));
        }
        return tlvs;
    }

    private static InetAddress ip(SocketAddress a) {
        return a instanceof InetSocketAddress i && !i.isUnresolved() ? i.getAddress() : null;
    }

    /** The textual address, IPv4 as is when both sides are IPv4, otherwise IPv6 (IPv4 mapped). */
    private static String addressString(InetAddress a, boolean v4) {
        if (v4 || !(a instanceof Inet4Address)) {
            return NetUtil.toAddressString(a);
        }
        return "::ffff:" + a.getHostAddress();
    }

    @Override
    public String toString() {
        return "PROXY " + version + " " + source + " -> " + destination
                + (authority == null ? "" : " authority " + authority) + (tls ? " tls" : "")
                + (tlsVersion == null ? "" : " " + tlsVersion);
    }
}
