package dev.smartproxy.testing;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real backend on 127.0.0.1 with an ephemeral port: the JDK's blocking {@link ServerSocket}
 * (or {@link SSLServerSocket}), one thread per connection running a {@link Handler}.
 */
public final class TestServer implements AutoCloseable {
    /** Serves one accepted connection. */
    @FunctionalInterface
    public interface Handler {
        void serve(Socket socket) throws Exception;
    }

    private final ServerSocket server;
    private final ExecutorService pool;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();

    private TestServer(ServerSocket server, String name, Handler handler) {
        this.server = server;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.execute(() -> acceptLoop(handler));
    }

    /** A plain TCP server. */
    public static TestServer plain(String name, Handler handler) {
        try {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
            return new TestServer(s, name, handler);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A TLS server presenting the test certificate for {@code dnsName}. */
    public static TestServer tls(String dnsName, Handler handler) {
        try {
            SSLContext ctx = TestPki.shared().serverContext(dnsName);
            SSLServerSocket s = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket();
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
            return new TestServer(s, dnsName, handler);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void acceptLoop(Handler handler) {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            connections.incrementAndGet();
            accepted.add(s);
            pool.execute(() -> {
                try (s) {
                    handler.serve(s);
                } catch (Exception e) {
                    failures.add(e);
                }
            });
        }
    }

    /** The bound port. */
    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** Exceptions thrown by handlers. */
    public List<Throwable> failures() {
        return failures;
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Socket s : accepted) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        pool.shutdownNow();
    }
}
