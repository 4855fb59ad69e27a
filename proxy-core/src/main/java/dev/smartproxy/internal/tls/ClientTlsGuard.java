package dev.smartproxy.internal.tls;

import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Supplier;

/**
 * Watches the TLS a client speaks to a terminating {@link SslHandler}, from just before it in
 * the pipeline, on the raw bytes:
 *
 * <ul>
 *   <li><b>No client-initiated renegotiation, whatever the TLS engine.</b> Once the handshake has
 *       completed with TLS 1.2 (or older), the only records a client may send are application
 *       data and alerts; a handshake record (content type 22), a cipher change (20) or an
 *       SSLv2-framed hello can only belong to a renegotiation, which costs the proxy a full
 *       handshake each time. The connection is closed on the first byte of such a record, reason
 *       {@link CloseReason#TLS_RENEGOTIATION_REFUSED}, before the engine sees the record. This
 *       holds for the JDK's engine (which would accept it unless a JVM-wide system property says
 *       otherwise, something a library must not set for its host) and for OpenSSL alike.</li>
 *   <li><b>Under TLS 1.3 the guard removes itself</b> when the handshake completes: post-handshake
 *       messages (KeyUpdate, tickets) travel encrypted as application data, and renegotiation
 *       does not exist.</li>
 *   <li><b>A handshake that times out</b> (the {@code SslHandler}'s handshake timeout) is
 *       recorded as {@link CloseReason#TLS_HANDSHAKE_TIMEOUT} before the handler closes the
 *       channel; one refused for its client certificate as
 *       {@link CloseReason#CLIENT_CERTIFICATE_MISSING} or
 *       {@link CloseReason#CLIENT_CERTIFICATE_REJECTED} ({@link ClientCertificates#failure}).</li>
 * </ul>
 *
 * <p>Cost: the guard follows record boundaries by reading 5-byte headers only (a header split
 * across reads is assembled in two small fields); record bodies are skipped, never copied.
 * Until the handshake completes, a read holding several records is passed on one record at a
 * time (as slices of the same buffer), so that a record arriving in the same read as the one
 * that completes the handshake is checked too. After a TLS 1.2 handshake each read is passed on
 * whole once its headers are checked.
 *
 * <p>Created per connection; runs on the channel's event loop.
 */
public final class ClientTlsGuard extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ClientTlsGuard.class);

    private static final int HEADER = 5;
    private static final int HANDSHAKE = 22;
    private static final int CHANGE_CIPHER_SPEC = 20;
    private static final int HEARTBEAT = 24;

    private final ManagedConnection conn;
    private final Future<Channel> handshake;
    private final Supplier<String> protocol;
    private ChannelHandlerContext ctx;

    /** Bytes of the current record's body still to come (0: a header is next). */
    private int recordLeft;
    /** How many bytes of the next header have been seen, and their values (big-endian, up to 5). */
    private int headerSeen;
    private long headerBits;
    /** The first record may be an SSLv2-framed ClientHello (2-byte header); later ones may not. */
    private boolean firstRecord = true;

    /** The handshake completed with TLS 1.2 or older: a handshake record means renegotiation. */
    private boolean armed;
    /** Nothing more to check (TLS 1.3, or bytes that are not TLS records): pass everything on. */
    private boolean done;
    private boolean refused;
    private boolean inRead;

    /**
     * A guard for one connection, to be added just before {@code ssl} in its pipeline; it checks
     * from the first byte the TLS handler will see.
     *
     * @param conn the connection, for its close reason and log prefix
     * @param ssl  the server {@code SslHandler} this guard sits in front of
     */
    public ClientTlsGuard(ManagedConnection conn, SslHandler ssl) {
        this(conn, ssl.handshakeFuture(), () -> ssl.engine().getSession().getProtocol());
    }

    /**
     * As {@link #ClientTlsGuard(ManagedConnection, SslHandler)}, with the handshake's outcome
     * given apart (for tests).
     *
     * @param handshake completes when the TLS handshake does
     * @param protocol  the negotiated protocol name ({@code "TLSv1.2"}, {@code "TLSv1.3"}), asked
     *                  once the handshake has succeeded
     */
    ClientTlsGuard(ManagedConnection conn, Future<Channel> handshake, Supplier<String> protocol) {
        this.conn = conn;
        this.handshake = handshake;
        this.protocol = protocol;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        handshake.addListener(f -> handshakeDone(f.cause()));
    }

    private void handshakeDone(Throwable cause) {
        if (cause != null) {
            if (cause instanceof SslHandshakeTimeoutException) {
                log.debug("{}TLS handshake not completed in time: {}", conn.log(), cause.getMessage());
                conn.closeReason(CloseReason.TLS_HANDSHAKE_TIMEOUT);
            } else {
                // Recorded here too, in case the failure reaches no exceptionCaught; the DEBUG line
                // is the client-error handler's, which reads the same table.
                CloseReason certificate = ClientCertificates.failure(cause);
                if (certificate != null) {
                    conn.closeReason(certificate);
                }
            }
            return;
        }
        if ("TLSv1.3".equals(protocol.get())) {
            done = true;
            if (!inRead) {
                removeSelf();
            }
        } else {
            armed = true;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (done || !(msg instanceof ByteBuf buf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        inRead = true;
        try {
            read(ctx, buf);
        } finally {
            inRead = false;
        }
        if (done && !refused) {
            removeSelf();
        }
    }

    private void read(ChannelHandlerContext ctx, ByteBuf buf) {
        int end = buf.writerIndex();
        int from = buf.readerIndex();
        // Handshake: one record at a time, so that the handshake's completion is seen between
        // records. A read that holds only the end of one record goes on whole, as all do after.
        while (!armed && !done && from < end) {
            int next = skipRecord(buf, from, end);
            if (next == end && from == buf.readerIndex()) {
                ctx.fireChannelRead(buf);
                return;
            }
            ctx.fireChannelRead(buf.retainedSlice(from, next - from));
            from = next;
        }
        if (from == end || refused) {
            buf.release();
            return;
        }
        if (armed && !checkRecords(buf, from, end)) {
            buf.release();
            refuse(ctx);
            return;
        }
        if (from == buf.readerIndex()) {
            ctx.fireChannelRead(buf);
        } else {
            ctx.fireChannelRead(buf.retainedSlice(from, end - from));
            buf.release();
        }
    }

    /**
     * Follows the records in {@code [from, end)} after the handshake: false when one of them is
     * a renegotiation attempt.
     */
    private boolean checkRecords(ByteBuf buf, int from, int end) {
        int i = from;
        while (i < end && !done) {
            i = skipRecord(buf, i, end);
            if (refused) {
                return false;
            }
        }
        return true;
    }

    /**
     * Consumes bytes from {@code i} up to the end of the current record or {@code end},
     * whichever comes first, and returns the index reached. Sets {@link #refused} when a header
     * shows a renegotiation attempt, {@link #done} when the bytes are not TLS records.
     */
    private int skipRecord(ByteBuf buf, int i, int end) {
        while (recordLeft == 0 && i < end) {
            int b = buf.getUnsignedByte(i++);
            if (headerSeen == 0 && armed && (b == HANDSHAKE || b == CHANGE_CIPHER_SPEC || b >= 0x80)) {
                // A handshake or cipher change after the handshake, or an SSLv2-framed hello:
                // the client is renegotiating. Decided on the first byte of the header.
                refused = true;
                return end;
            }
            headerBits = (headerBits << 8) | b;
            headerSeen++;
            if (headerSeen == 2 && firstRecord && (headerBits & 0x8000) != 0) {
                // An SSLv2-framed ClientHello: 2-byte header, 15-bit length.
                recordLeft = (int) (headerBits & 0x7fff);
                startRecord();
            } else if (headerSeen == HEADER) {
                int type = (int) (headerBits >>> 32) & 0xff;
                int major = (int) (headerBits >>> 24) & 0xff;
                if (type < CHANGE_CIPHER_SPEC || type > HEARTBEAT || major != 3) {
                    // Not a TLS record: the TLS handler fails the connection; nothing to follow.
                    done = true;
                    return end;
                }
                recordLeft = (int) (headerBits & 0xffff);
                startRecord();
                if (recordLeft == 0) {
                    return i; // an empty record ends here
                }
            }
        }
        int n = Math.min(recordLeft, end - i);
        recordLeft -= n;
        return i + n;
    }

    private void startRecord() {
        headerSeen = 0;
        headerBits = 0;
        firstRecord = false;
    }

    private void refuse(ChannelHandlerContext ctx) {
        log.debug("{}TLS renegotiation by the client refused", conn.log());
        conn.closeReason(CloseReason.TLS_RENEGOTIATION_REFUSED);
        ctx.channel().close();
    }

    private void removeSelf() {
        if (ctx != null && !ctx.isRemoved()) {
            ctx.pipeline().remove(this);
        }
    }
}
