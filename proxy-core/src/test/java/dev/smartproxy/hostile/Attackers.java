package dev.smartproxy.hostile;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The attackers' tools: raw TCP floods that never read, TLS clients whose raw socket the test
 * controls (a FIN without close_notify; a close that unblocks a stuck write), and the hostile
 * byte sequences (pipelined requests, a ClientHello in 1-byte records, a partial WebSocket frame).
 */
final class Attackers {
    private Attackers() {
    }

    // ------------------------------------------------------------------ byte sequences

    /** {@code count} pipelined GET requests for {@code host}. */
    static byte[] pipelinedGets(String host, int count) {
        byte[] one = ("GET /some/page HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[one.length * count];
        for (int i = 0; i < count; i++) {
            System.arraycopy(one, 0, all, i * one.length, one.length);
        }
        return all;
    }

    /**
     * The start of a ClientHello that declares {@code declaredLength} bytes of handshake body and
     * sends {@code sentBytes} of it, one byte per TLS record (6 bytes on the wire per byte of
     * body): a first record with the handshake header, then 1-byte records. Never complete when
     * {@code sentBytes < declaredLength}.
     */
    static byte[] oneByteRecordClientHello(int declaredLength, int sentBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(9 + sentBytes * 6);
        out.writeBytes(new byte[] {22, 3, 1, 0, 4, 1, (byte) (declaredLength >>> 16), (byte) (declaredLength >>> 8),
                (byte) declaredLength});
        for (int i = 0; i < sentBytes; i++) {
            byte b = i == 0 ? 3 : i == 1 ? 3 : (byte) i; // legacy_version 3.3, then filler
            out.writeBytes(new byte[] {22, 3, 1, 0, 1, b});
        }
        return out.toByteArray();
    }

    /** A WebSocket upgrade request for {@code host}, path {@code /ws}. */
    static byte[] webSocketUpgrade(String host) {
        return ("GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** The header of a masked binary client frame (FIN set) announcing {@code payloadLength} bytes. */
    static byte[] maskedBinaryFrameHeader(long payloadLength) {
        return new byte[] {(byte) 0x82, (byte) (0x80 | 127), (byte) (payloadLength >>> 56), (byte) (payloadLength >>> 48),
                (byte) (payloadLength >>> 40), (byte) (payloadLength >>> 32), (byte) (payloadLength >>> 24),
                (byte) (payloadLength >>> 16), (byte) (payloadLength >>> 8), (byte) payloadLength,
                0x11, 0x22, 0x33, 0x44};
    }

    /** Reads a response head (up to the empty line); returns its status line, or null at end of stream. */
    static String readHead(InputStream in) throws IOException {
        StringBuilder all = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            all.append((char) c);
            int n = all.length();
            if (n >= 4 && all.charAt(n - 1) == '\n' && all.charAt(n - 2) == '\r' && all.charAt(n - 3) == '\n'
                    && all.charAt(n - 4) == '\r') {
                return all.substring(0, all.indexOf("\r\n"));
            }
        }
        return null;
    }

    /** Reads until end of stream or an error; returns when the peer has closed (or reset) the connection. */
    static void readToEnd(InputStream in) {
        byte[] buf = new byte[8192];
        try {
            while (in.read(buf) >= 0) {
                // responses, if any, are dropped
            }
        } catch (IOException closed) {
            // a reset, or our own close: either way the connection is over
        }
    }

    // ------------------------------------------------------------------ TLS clients

    private static final SSLContext TRUST_ALL = trustAll();

    private static SSLContext trustAll() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new X509ExtendedTrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
                }

                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
                }

                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A TLS client over a raw socket the test keeps: {@link #fin()} sends a TCP FIN (no
     * close_notify), {@link #close()} closes the raw socket, which also unblocks a write stuck
     * behind a peer that stopped reading. Trusts any certificate: the child's test CA is not ours.
     */
    static final class TlsClient implements AutoCloseable {
        final Socket raw;
        final SSLSocket tls;
        final OutputStream out;
        final InputStream in;

        private TlsClient(Socket raw, SSLSocket tls) throws IOException {
            this.raw = raw;
            this.tls = tls;
            this.out = tls.getOutputStream();
            this.in = tls.getInputStream();
        }

        /** Connects to {@code 127.0.0.1:port} and completes the handshake with SNI {@code sni}. */
        static TlsClient connect(int port, String sni) throws IOException {
            Socket raw = new Socket();
            try {
                raw.setTcpNoDelay(true);
                raw.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
                raw.setSoTimeout(30_000);
                SSLSocket s = (SSLSocket) TRUST_ALL.getSocketFactory().createSocket(raw, sni, port, true);
                SSLParameters p = s.getSSLParameters();
                p.setServerNames(List.of(new SNIHostName(sni)));
                p.setApplicationProtocols(new String[] {"http/1.1"});
                s.setSSLParameters(p);
                s.startHandshake();
                return new TlsClient(raw, s);
            } catch (IOException | RuntimeException e) {
                raw.close();
                throw e;
            }
        }

        void write(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /** A TCP FIN on the raw socket: the client will send nothing more, and no close_notify says so. */
        void fin() throws IOException {
            raw.shutdownOutput();
        }

        @Override
        public void close() {
            try {
                raw.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    // ------------------------------------------------------------------ raw floods

    /**
     * Non-blocking raw TCP connections that write and never read. One thread pushes every
     * connection's bytes through a {@link Selector} until a deadline; a connection the peer
     * closes is replaced when the flood {@code reconnects}.
     */
    static final class Flood implements AutoCloseable {
        private final int port;
        private final IntFunction<byte[]> payload;
        private final boolean loop;
        private final boolean reconnects;
        private final int size;
        private final List<SocketChannel> channels = new ArrayList<>();
        private final Selector selector;
        long written;
        int closedByPeer;

        /**
         * @param port       127.0.0.1 port to connect to
         * @param size       connections
         * @param payload    the bytes of connection {@code i}
         * @param loop       repeat the payload forever (else send it once)
         * @param reconnects replace a connection the peer closes
         */
        Flood(int port, int size, IntFunction<byte[]> payload, boolean loop, boolean reconnects) throws IOException {
            this.port = port;
            this.size = size;
            this.payload = payload;
            this.loop = loop;
            this.reconnects = reconnects;
            this.selector = Selector.open();
            for (int i = 0; i < size; i++) {
                open(i);
            }
        }

        private void open(int i) throws IOException {
            SocketChannel c = SocketChannel.open();
            // A small, fixed receive window: what the proxy answers piles up on its side, not in
            // this socket's buffer (which loopback autotuning would let grow to tens of MB).
            c.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            c.configureBlocking(false);
            channels.add(c);
            c.register(selector, SelectionKey.OP_WRITE, new Slot(i, ByteBuffer.wrap(payload.apply(i))));
        }

        /**
         * Writes for {@code duration}: payloads without loop are sent once, then the connections
         * hang, open and silent, until the duration is over.
         */
        void pushFor(Duration duration) throws IOException {
            long deadline = System.nanoTime() + duration.toNanos();
            long left;
            while ((left = deadline - System.nanoTime()) > 0) {
                selector.select(Math.max(1, Math.min(50, left / 1_000_000)));
                for (SelectionKey k : selector.selectedKeys()) {
                    Slot s = (Slot) k.attachment();
                    try {
                        written += ((SocketChannel) k.channel()).write(s.buf);
                        if (!s.buf.hasRemaining()) {
                            if (loop) {
                                s.buf.rewind();
                            } else {
                                k.cancel();
                            }
                        }
                    } catch (IOException closed) {
                        closedByPeer++;
                        k.cancel();
                        k.channel().close();
                        if (reconnects) {
                            open(s.index);
                        }
                    }
                }
                selector.selectedKeys().clear();
            }
        }

        /** Connections opened so far (reconnections included). */
        int opened() {
            return channels.size();
        }

        int size() {
            return size;
        }

        /** Aborts every connection (RST: an attacker does not say goodbye). */
        @Override
        public void close() throws IOException {
            for (SocketChannel c : channels) {
                if (c.isOpen()) {
                    c.setOption(java.net.StandardSocketOptions.SO_LINGER, 0);
                }
                c.close();
            }
            selector.close();
        }

        private record Slot(int index, ByteBuffer buf) {
        }
    }
}
