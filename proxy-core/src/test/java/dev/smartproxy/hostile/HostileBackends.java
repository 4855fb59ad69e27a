package dev.smartproxy.hostile;

import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.TestServer;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The backends of the hostile tier, all in the child JVM next to the proxy, all on 127.0.0.1.
 *
 * <ul>
 *   <li>{@link #app}: a blocking HTTP/1.1 server behind the TLS TERMINATE route. {@code /continue}
 *       answers with an endless stream of {@code 100 Continue} heads (until the connection breaks);
 *       {@code /upload} reads the request body slowly (1 KiB every 20 ms) and then answers 200;
 *       anything else gets a small 200.</li>
 *   <li>{@link #webSocket}: completes a WebSocket upgrade and then reads and discards whatever
 *       arrives, so that no frame is ever held by a backend in this JVM: memory the tier measures
 *       is the proxy's.</li>
 *   <li>{@link #passthrough}: a TLS echo server (the SNI passthrough route).</li>
 *   <li>{@link #stuckPort()}: a listener whose accept queue is full and never drained, so that a
 *       connect to it never completes (the kernel drops the SYNs): the pending-data attack.</li>
 *   <li>{@link #healthy}: the Netty HTTP echo server of the healthy route.</li>
 * </ul>
 */
final class HostileBackends implements AutoCloseable {
    /** Open connections of the app backend (both legs of an exchange must go when it ends). */
    final AtomicInteger appOpen = new AtomicInteger();
    /** Open connections of the WebSocket backend. */
    final AtomicInteger webSocketOpen = new AtomicInteger();
    final TestServer app;
    final TestServer webSocket;
    final TestServer passthrough;
    final HttpEchoServer healthy;
    private final ServerSocket stuck;
    private final List<SocketChannel> stuckFillers = new ArrayList<>();

    private HostileBackends() throws Exception {
        app = TestServer.plain("app", counted(appOpen, HostileBackends::serveApp));
        webSocket = TestServer.plain("ws", counted(webSocketOpen, HostileBackends::serveWebSocketSink));
        passthrough = TestServer.tls("pass.test", s -> s.getInputStream().transferTo(s.getOutputStream()));
        healthy = new HttpEchoServer("healthy");
        stuck = new ServerSocket();
        stuck.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        fillAcceptQueue();
    }

    /** Starts every backend. */
    static HostileBackends start() throws Exception {
        return new HostileBackends();
    }

    /** The port of the listener no connect ever completes to. */
    int stuckPort() {
        return stuck.getLocalPort();
    }

    /**
     * Connects to the never-accepting listener until a connect no longer completes: its accept
     * queue is then full, and Linux drops every further SYN, so later connects hang (until the
     * connecting side gives up). The fillers stay open as long as the backends.
     */
    private void fillAcceptQueue() throws IOException {
        InetSocketAddress target = new InetSocketAddress(InetAddress.getLoopbackAddress(), stuck.getLocalPort());
        for (int i = 0; i < 16; i++) {
            SocketChannel c = SocketChannel.open();
            c.configureBlocking(false);
            stuckFillers.add(c);
            boolean connected = c.connect(target);
            long deadline = System.nanoTime() + 300_000_000L;
            while (!connected && System.nanoTime() < deadline) {
                LockSupport.parkNanos(5_000_000L);
                connected = c.finishConnect();
            }
            if (!connected) {
                return; // this SYN was dropped: the queue is full
            }
        }
        throw new IllegalStateException("the accept queue of 127.0.0.1:" + stuck.getLocalPort()
                + " never filled: connects to it would complete");
    }

    private static TestServer.Handler counted(AtomicInteger open, TestServer.Handler h) {
        return s -> {
            open.incrementAndGet();
            try {
                h.serve(s);
            } finally {
                open.decrementAndGet();
            }
        };
    }

    // ------------------------------------------------------------------ app backend

    private static final byte[] CONTINUE_HEAD = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private static void serveApp(Socket s) throws IOException {
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        while (true) {
            Head head = Head.read(in);
            if (head == null) {
                return;
            }
            if (head.path.startsWith("/continue")) {
                byte[] burst = new byte[CONTINUE_HEAD.length * 2048];
                for (int i = 0; i < 2048; i++) {
                    System.arraycopy(CONTINUE_HEAD, 0, burst, i * CONTINUE_HEAD.length, CONTINUE_HEAD.length);
                }
                while (true) {
                    out.write(burst); // until the proxy drops the connection: write throws
                }
            }
            long received = 0;
            if (head.path.startsWith("/upload")) {
                byte[] buf = new byte[1024];
                long left = head.contentLength;
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n < 0) {
                        return;
                    }
                    left -= n;
                    received += n;
                    LockSupport.parkNanos(20_000_000L); // a slow consumer: 1 KiB per 20 ms
                }
            } else {
                in.skipNBytes(Math.max(0, head.contentLength));
            }
            byte[] body = ("app ok " + head.path + " received=" + received + "\n").getBytes(StandardCharsets.US_ASCII);
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        }
    }

    // ------------------------------------------------------------------ WebSocket sink

    private static void serveWebSocketSink(Socket s) throws Exception {
        InputStream in = new BufferedInputStream(s.getInputStream());
        Head head = Head.read(in);
        if (head == null || head.webSocketKey == null) {
            return;
        }
        String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1").digest(
                (head.webSocketKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
        OutputStream out = s.getOutputStream();
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] sink = new byte[16 * 1024];
        while (in.read(sink) >= 0) {
            // discard: frames are never buffered here
        }
    }

    /** A request head: the path, the Content-Length and a WebSocket key, if any. */
    private record Head(String path, long contentLength, String webSocketKey) {
        /** Reads a head (up to the empty line); null at end of stream. */
        static Head read(InputStream in) throws IOException {
            String requestLine = line(in);
            if (requestLine == null) {
                return null;
            }
            String[] parts = requestLine.split(" ");
            String path = parts.length > 1 ? parts[1] : "/";
            long length = 0;
            String key = null;
            String l;
            while ((l = line(in)) != null && !l.isEmpty()) {
                int colon = l.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = l.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    length = Long.parseLong(value);
                } else if (name.equals("sec-websocket-key")) {
                    key = value;
                }
            }
            return l == null ? null : new Head(path, length, key);
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                if (c == '\n') {
                    int n = b.length();
                    return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
                }
                b.append((char) c);
                if (b.length() > 16 * 1024) {
                    throw new IOException("header line too long");
                }
            }
            return null;
        }
    }

    @Override
    public void close() {
        for (SocketChannel c : stuckFillers) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        try {
            stuck.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            app.close();
            webSocket.close();
            passthrough.close();
            healthy.close();
        }
    }
}
