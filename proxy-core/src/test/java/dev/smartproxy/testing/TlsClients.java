package dev.smartproxy.testing;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;

/** Real TLS and TCP clients for loopback tests: the JDK's {@link SSLSocket} over a plain socket. */
public final class TlsClients {
    private TlsClients() {
    }

    /** How the client's bytes reach the wire. */
    public record Wire(int writeChunk, int recordPayload, int alpnPadding) {
        /** Writes as the JDK does. */
        public static final Wire NORMAL = new Wire(0, 0, 0);

        /** Every write split into TCP writes of at most {@code bytes}, each flushed with TCP_NODELAY. */
        public static Wire smallWrites(int bytes) {
            return new Wire(bytes, 0, 0);
        }

        /** The ClientHello re-framed into TLS records of at most {@code payload} bytes. */
        public Wire splitRecords(int payload) {
            return new Wire(writeChunk, payload, alpnPadding);
        }

        /** ALPN names adding about {@code bytes} to the ClientHello, to make it large. */
        public Wire padded(int bytes) {
            return new Wire(writeChunk, recordPayload, bytes);
        }
    }

    /** Connects to {@code 127.0.0.1:port} and completes a TLS handshake sending SNI {@code sni} (null: none). */
    public static SSLSocket connect(int port, String sni) throws IOException {
        return connect(port, sni, Wire.NORMAL);
    }

    /** As {@link #connect(int, String)}, shaping the client's bytes on the wire. */
    public static SSLSocket connect(int port, String sni, Wire wire) throws IOException {
        SSLSocket s = open(port, sni, wire);
        s.startHandshake();
        return s;
    }

    /** Opens the TLS socket without starting the handshake. */
    public static SSLSocket open(int port, String sni, Wire wire) throws IOException {
        Socket raw = new ShapingSocket(wire);
        raw.setTcpNoDelay(true);
        raw.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        raw.setSoTimeout(20_000);
        SSLSocket s = (SSLSocket) TestPki.shared().clientContext().getSocketFactory()
                .createSocket(raw, sni == null ? "127.0.0.1" : sni, port, true);
        SSLParameters params = s.getSSLParameters();
        params.setServerNames(sni == null ? List.of() : List.of(new SNIHostName(sni)));
        params.setEndpointIdentificationAlgorithm(sni == null ? null : "HTTPS");
        if (wire.alpnPadding() > 0) {
            int n = (wire.alpnPadding() + 199) / 200;
            String[] names = new String[n + 1];
            for (int i = 0; i < n; i++) {
                char[] c = new char[200];
                Arrays.fill(c, (char) ('a' + i % 26));
                names[i] = new String(c);
            }
            names[n] = "http/1.1";
            params.setApplicationProtocols(names);
        }
        s.setSSLParameters(params);
        return s;
    }

    /** A plain TCP connection to {@code 127.0.0.1:port}. */
    public static Socket plain(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(20_000);
        return s;
    }

    /** Writes a line and flushes. */
    public static void writeLine(Socket s, String line) throws IOException {
        s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
    }

    /** Reads one line (up to '\n'), or null at end of stream. */
    public static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                return line.toString(StandardCharsets.UTF_8);
            }
            line.write(b);
        }
        return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
    }

    /** A deterministic pseudo-random stream of {@code length} bytes from {@code seed}, written to {@code out}. */
    public static byte[] writePattern(OutputStream out, long length, long seed) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[64 * 1024];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(buf.length, left);
            for (int i = 0; i < n; i += 8) {
                long v = rnd.nextLong();
                for (int j = 0; j < 8 && i + j < n; j++) {
                    buf[i + j] = (byte) (v >>> (8 * j));
                }
            }
            out.write(buf, 0, n);
            sha.update(buf, 0, n);
            left -= n;
        }
        out.flush();
        return sha.digest();
    }

    /** Reads exactly {@code length} bytes (fails on an early end of stream) and returns their SHA-256. */
    public static byte[] readDigest(InputStream in, long length) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[64 * 1024];
        long left = length;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new IOException("stream ended with " + left + " of " + length + " bytes unread");
            }
            sha.update(buf, 0, n);
            left -= n;
        }
        return sha.digest();
    }

    /** Reads to end of stream and returns the SHA-256 and the count. */
    public static byte[] readDigestToEnd(InputStream in, long[] count) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = in.read(buf)) >= 0) {
            sha.update(buf, 0, n);
            total += n;
        }
        count[0] = total;
        return sha.digest();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A socket whose output can split writes into small TCP writes and re-frame the first TLS record. */
    private static final class ShapingSocket extends Socket {
        private final Wire wire;
        private OutputStream shaped;

        ShapingSocket(Wire wire) {
            this.wire = wire;
        }

        @Override
        public synchronized OutputStream getOutputStream() throws IOException {
            if (shaped == null) {
                OutputStream out = super.getOutputStream();
                if (wire.writeChunk() > 0) {
                    out = new ChunkingStream(out, wire.writeChunk());
                }
                if (wire.recordPayload() > 0) {
                    out = new RecordSplittingStream(out, wire.recordPayload());
                }
                shaped = out;
            }
            return shaped;
        }
    }

    /** Splits every write into writes of at most {@code chunk} bytes, flushing each. */
    private static final class ChunkingStream extends FilterOutputStream {
        private final int chunk;

        ChunkingStream(OutputStream out, int chunk) {
            super(out);
            this.chunk = chunk;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            for (int i = 0; i < len; i += chunk) {
                out.write(b, off + i, Math.min(chunk, len - i));
                out.flush();
            }
        }
    }

    /**
     * Re-frames the first TLS handshake record (the ClientHello) into several records whose
     * payloads are at most {@code payload} bytes, as TLS allows; everything after passes as is.
     */
    private static final class RecordSplittingStream extends FilterOutputStream {
        private final int payload;
        private final ByteArrayOutputStream first = new ByteArrayOutputStream();
        private boolean done;

        RecordSplittingStream(OutputStream out, int payload) {
            super(out);
            this.payload = payload;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (done) {
                out.write(b, off, len);
                return;
            }
            first.write(b, off, len);
            byte[] buf = first.toByteArray();
            if (buf.length < 5) {
                return;
            }
            int recLen = ((buf[3] & 0xff) << 8) | (buf[4] & 0xff);
            if (buf.length < 5 + recLen) {
                return;
            }
            done = true;
            if (buf[0] != 22) {
                throw new IOException("first record is not a handshake record");
            }
            for (int p = 0; p < recLen; p += payload) {
                int n = Math.min(payload, recLen - p);
                out.write(new byte[] {22, buf[1], buf[2], (byte) (n >>> 8), (byte) n});
                out.write(buf, 5 + p, n);
            }
            out.write(buf, 5 + recLen, buf.length - 5 - recLen);
            out.flush();
        }
    }

    /** A real TLS ClientHello record with SNI {@code sni}, from the JDK's TLS engine. */
    public static byte[] clientHello(String sni) throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, null, null);
        javax.net.ssl.SSLEngine engine = ctx.createSSLEngine(sni, 443);
        engine.setUseClientMode(true);
        javax.net.ssl.SSLParameters p = engine.getSSLParameters();
        p.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName(sni)));
        engine.setSSLParameters(p);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(java.nio.ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }
}
