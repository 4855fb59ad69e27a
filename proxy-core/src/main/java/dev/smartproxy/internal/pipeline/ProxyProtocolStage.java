package dev.smartproxy.internal.pipeline;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.CloseReasons;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.relay.Legs;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The PROXY protocol stage (v1 and v2) of a listener that accepts it, on a connection from a
 * trusted proxy: it reads the header, makes the client address it carries THE client address
 * of the connection ({@link ManagedConnection#clientAddress(InetSocketAddress)}), then runs the
 * next stages (admission, then classification) and leaves the pipeline with Netty's decoder;
 * every byte after the header flows on unchanged (a ClientHello right behind it is peeked as if
 * it came first).
 *
 * <p>Three handlers, in this order: this one ({@code proxy-protocol}), which looks at the raw
 * bytes before Netty's {@link HAProxyMessageDecoder} ({@code proxy-decoder}) parses them, and a
 * receiver ({@code proxy-header}) for the decoded header or the decoder's failure. This one
 * decides what the decoder cannot tell apart: no header at all ({@code PROXY_PROTOCOL_MISSING}:
 * the first bytes are neither {@code "PROXY "} nor the v2 signature), a header over its cap
 * ({@code PROXY_PROTOCOL_TOO_LARGE}: a v1 line without its CRLF within 108 bytes, a v2 header
 * whose declared length takes it past {@link #V2_MAX_HEADER} bytes), and no complete header
 * within {@code initialDataTimeout} ({@code PROXY_PROTOCOL_TIMEOUT}). A header the decoder
 * refuses is {@code PROXY_PROTOCOL_INVALID} (the decoder closes the channel itself; the close
 * passes through this handler, which records the reason first).
 *
 * <p>The address: a PROXY command over TCP or UDP, IPv4 or IPv6, gives its source address
 * and port; the LOCAL command (a balancer's own health check), an UNKNOWN or unspecified
 * family, and UNIX sockets keep the peer's address. v2 TLVs (AWS's and GCP's included) are
 * skipped: none changes the client address.
 *
 * <p>{@link Untrusted} is the counterpart for peers that are not trusted on such a listener.
 */
final class ProxyProtocolStage extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolStage.class);

    /** The longest v1 header, CRLF included (the specification's own bound). */
    static final int V1_MAX_HEADER = 108;
    /** The longest v2 header accepted: the 16-byte fixed part, the addresses and the TLVs. */
    static final int V2_MAX_HEADER = 1024;
    /** Netty's decoder caps v2 at {@code 16 + 216 + maxTlvSize}: the same bound. */
    private static final int NETTY_MAX_TLV = V2_MAX_HEADER - 16 - 216;

    private static final byte[] V1_SIGNATURE = {'P', 'R', 'O', 'X', 'Y', ' '};
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private final ManagedConnection conn;
    private final long timeoutMillis;
    private final Runnable next;

    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> timeout;
    /** Bytes looked at so far. */
    private int seen;
    /** The first 16 bytes (v2: the fixed part, with the length). */
    private final byte[] head = new byte[16];
    private boolean maybeV1 = true;
    private boolean maybeV2 = true;
    private boolean lastCr;
    /** The header's length is known to be within the cap: nothing more to look at. */
    private boolean bounded;
    /** The header was taken or refused. */
    private boolean done;

    /**
     * @param conn          the connection, registered
     * @param timeoutMillis how long the whole header may take ({@code initialDataTimeout})
     * @param next          admission and classification: run once the client address is known
     */
    ProxyProtocolStage(ManagedConnection conn, long timeoutMillis, Runnable next) {
        this.conn = conn;
        this.timeoutMillis = timeoutMillis;
        this.next = next;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.pipeline().addAfter(ctx.name(), PipelineNames.PROXY_DECODER, new HAProxyMessageDecoder(NETTY_MAX_TLV));
        ctx.pipeline().addAfter(PipelineNames.PROXY_DECODER, PipelineNames.PROXY_HEADER, new Header());
        timeout = ctx.executor().schedule(() -> {
            if (!done && ctx.channel().isActive()) {
                refuse(CloseReason.PROXY_PROTOCOL_TIMEOUT, "no complete PROXY protocol header within "
                        + timeoutMillis + " ms (" + seen + " bytes)");
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (done || bounded || !(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        CloseReason refused = look(buf);
        if (refused != null) {
            ReferenceCountUtil.release(msg);
            refuse(refused, refused == CloseReason.PROXY_PROTOCOL_MISSING
                    ? "no PROXY protocol header from a trusted proxy"
                    : "PROXY protocol header over its cap (v1 " + V1_MAX_HEADER + ", v2 " + V2_MAX_HEADER + " bytes)");
            return;
        }
        ctx.fireChannelRead(msg); // to the decoder
    }

    /** Follows the header's first bytes: null while they may still be a header within the cap. */
    private CloseReason look(ByteBuf buf) {
        int from = buf.readerIndex();
        int to = buf.writerIndex();
        for (int i = from; i < to && !bounded; i++, seen++) {
            byte b = buf.getByte(i);
            if (seen < head.length) {
                head[seen] = b;
            }
            if (seen < V2_SIGNATURE.length) {
                maybeV1 &= seen >= V1_SIGNATURE.length || b == V1_SIGNATURE[seen];
                maybeV2 &= b == V2_SIGNATURE[seen];
                if (!maybeV1 && !maybeV2) {
                    return CloseReason.PROXY_PROTOCOL_MISSING;
                }
            }
            if (maybeV1) {
                if (lastCr && b == '\n') {
                    bounded = true; // the line ends within the cap; the decoder parses it
                } else if (seen + 1 >= V1_MAX_HEADER) {
                    return CloseReason.PROXY_PROTOCOL_TOO_LARGE;
                }
                lastCr = b == '\r';
            } else if (seen == 15) {
                int total = 16 + ((head[14] & 0xff) << 8 | (head[15] & 0xff));
                if (total > V2_MAX_HEADER) {
                    return CloseReason.PROXY_PROTOCOL_TOO_LARGE;
                }
                bounded = true;
            }
        }
        return null;
    }

    /** Closes with {@code reason}, unless one was recorded first. */
    private void refuse(CloseReason reason, String why) {
        done = true;
        if (conn.closeReason(reason)) {
            log.debug("{}{}: {} (peer {})", conn.log(), reason, why, conn.peerAddress());
        }
        ctx.close();
    }

    /**
     * A close before the header is taken: Netty's decoder closes the channel itself on a header
     * it refuses, before it raises the error, so the reason is recorded here, in time for the
     * close to be accounted with it. Every other close on this path records its reason first.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (!done) {
            done = true;
            conn.closeReason(CloseReason.PROXY_PROTOCOL_INVALID);
        }
        ctx.close(promise);
    }

    /** The decoder's header: the client address, then the next stages. */
    private void taken(HAProxyMessage m) {
        done = true;
        InetSocketAddress client = null;
        if (m.command() == HAProxyCommand.PROXY) {
            switch (m.proxiedProtocol().addressFamily()) {
                case AF_IPv4, AF_IPv6 -> client = address(m.sourceAddress(), m.sourcePort());
                default -> { } // UNKNOWN, UNSPEC, UNIX: the peer's address stays
            }
        }
        if (client != null) {
            conn.clientAddress(client);
            log.debug("{}PROXY {} header from {}: client {}", conn.log(), m.protocolVersion(), conn.peerAddress(),
                    client);
        } else {
            log.debug("{}PROXY {} {} header ({}) from {}: the peer's address stays", conn.log(), m.protocolVersion(),
                    m.command(), m.proxiedProtocol(), conn.peerAddress());
        }
        ctx.pipeline().remove(PipelineNames.PROXY_HEADER);
        ctx.pipeline().remove(this); // the decoder follows once it returns, handing on the bytes after the header
        next.run();
    }

    /** An IP literal the decoder checked, without any lookup; null if it is none. */
    private static InetSocketAddress address(String literal, int port) {
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(literal);
        if (bytes == null) {
            return null;
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
        } catch (UnknownHostException e) {
            return null; // not reached: the length is 4 or 16
        }
    }

    /** Receives what the decoder gives: the header, or its failure; leaves with the stage. */
    private final class Header extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext hctx, Object msg) {
            if (msg instanceof HAProxyMessage m) {
                try {
                    if (!done && hctx.channel().isActive()) {
                        taken(m);
                    }
                } finally {
                    m.release();
                }
            } else {
                ReferenceCountUtil.release(msg); // bytes after a refused header: nothing takes them
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext hctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                conn.clientInputClosed();
                if (seen == 0) {
                    conn.closeReason(CloseReason.CLIENT_CLOSED); // a balancer's connect-only health check
                    done = true;
                    hctx.close();
                } else {
                    refuse(CloseReason.PROXY_PROTOCOL_INVALID, "FIN within the PROXY protocol header");
                }
            } else {
                hctx.fireUserEventTriggered(evt);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext hctx, Throwable cause) {
            if (cause instanceof IOException) {
                log.debug("{}client error: {}", conn.log(), cause.toString());
                done = true;
                conn.closeReason(CloseReasons.of(cause, CloseReasons.Leg.CLIENT));
                Legs.reset(hctx.channel());
                return;
            }
            // The decoder's refusal (it may have closed already: the reason is then recorded).
            Throwable root = cause.getCause() != null ? cause.getCause() : cause;
            if (conn.closeReason(CloseReason.PROXY_PROTOCOL_INVALID)
                    || conn.closeReason() == CloseReason.PROXY_PROTOCOL_INVALID) {
                log.debug("{}PROXY_PROTOCOL_INVALID: {} (peer {})", conn.log(), root.getMessage(), conn.peerAddress());
            }
            done = true;
            hctx.close();
        }
    }

    /**
     * On a listener that accepts the PROXY protocol, in front of the connection of a peer that is
     * not trusted: a PROXY protocol signature in its first bytes ({@code "PROXY "} or the v2
     * signature) closes it with {@code PROXY_PROTOCOL_UNTRUSTED}; any other first bytes leave it
     * a direct client, and this handler leaves the pipeline at once, handing them on unchanged.
     * It holds at most 11 bytes, and only while they are a prefix of a signature. Admission and
     * classification do not wait for it (a server-speaks-first protocol still works).
     */
    static final class Untrusted extends ByteToMessageDecoder {
        private final ManagedConnection conn;

        Untrusted(ManagedConnection conn) {
            this.conn = conn;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int n = Math.min(in.readableBytes(), V2_SIGNATURE.length);
            int at = in.readerIndex();
            boolean v1 = true;
            boolean v2 = true;
            for (int i = 0; i < n; i++) {
                byte b = in.getByte(at + i);
                v1 &= i >= V1_SIGNATURE.length || b == V1_SIGNATURE[i];
                v2 &= b == V2_SIGNATURE[i];
            }
            if ((v1 && n >= V1_SIGNATURE.length) || (v2 && n == V2_SIGNATURE.length)) {
                in.skipBytes(in.readableBytes());
                if (conn.closeReason(CloseReason.PROXY_PROTOCOL_UNTRUSTED)) {
                    log.debug("{}PROXY_PROTOCOL_UNTRUSTED: a PROXY protocol header from {}, not a trusted proxy",
                            conn.log(), conn.peerAddress());
                }
                ctx.close();
            } else if (!v1 && !v2) {
                ctx.pipeline().remove(this); // hands the bytes held on
            }
        }
    }
}
