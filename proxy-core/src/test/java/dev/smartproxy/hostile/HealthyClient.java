package dev.smartproxy.hostile;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The well-behaved client that keeps using the healthy route while an attack runs: one GET every
 * {@link #PERIOD} on a kept-alive connection (a new one every {@link #REQUESTS_PER_CONNECTION}
 * requests, so that the accept path is exercised too). A request is served when a complete 200
 * from the healthy backend arrives within {@link #TIMEOUT}; anything else is a failure, and the
 * next request uses a new connection.
 */
final class HealthyClient implements AutoCloseable {
    static final Duration PERIOD = Duration.ofMillis(20);
    static final Duration TIMEOUT = Duration.ofSeconds(2);
    static final int REQUESTS_PER_CONNECTION = 25;

    private static final byte[] REQUEST = "GET /healthy HTTP/1.1\r\nHost: healthy.test\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII);

    private final int port;
    private final List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean stop;
    private Socket socket;
    private InputStream in;
    private int onThisConnection;

    private HealthyClient(int port) {
        this.port = port;
        this.thread = new Thread(this::run, "healthy-client");
        thread.setDaemon(true);
    }

    /** Starts sending to {@code 127.0.0.1:port}. */
    static HealthyClient start(int port) {
        HealthyClient c = new HealthyClient(port);
        c.thread.start();
        return c;
    }

    private void run() {
        long next = System.nanoTime();
        while (!stop) {
            long start = System.nanoTime();
            try {
                once();
                latencies.add(System.nanoTime() - start);
            } catch (IOException | RuntimeException e) {
                failures.add(String.format(Locale.ROOT, "after %d ms: %s", (System.nanoTime() - start) / 1_000_000, e));
                closeSocket();
            }
            next += PERIOD.toNanos();
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait); // the client's request rate, not a wait for a condition
            } else {
                next = System.nanoTime();
            }
        }
        closeSocket();
    }

    private void once() throws IOException {
        if (socket == null || onThisConnection >= REQUESTS_PER_CONNECTION) {
            closeSocket();
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int) TIMEOUT.toMillis());
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            in = new BufferedInputStream(socket.getInputStream());
            onThisConnection = 0;
        }
        onThisConnection++;
        socket.getOutputStream().write(REQUEST);
        String status = line(in);
        if (status == null || !status.startsWith("HTTP/1.1 200")) {
            throw new IOException("status line " + status);
        }
        long length = -1;
        String l;
        while ((l = line(in)) != null && !l.isEmpty()) {
            if (l.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Long.parseLong(l.substring(15).trim());
            }
        }
        if (l == null || length < 0) {
            throw new IOException("incomplete response head");
        }
        byte[] body = in.readNBytes((int) length);
        if (body.length != length || !new String(body, StandardCharsets.US_ASCII).contains("server=healthy")) {
            throw new IOException("incomplete or foreign body");
        }
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
        }
        return null;
    }

    private void closeSocket() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
            socket = null;
        }
    }

    /** Requests served so far. */
    int served() {
        return latencies.size();
    }

    /** Stops after the request in flight, closes the connection, and returns what was measured. */
    Result stop() {
        stop = true;
        try {
            thread.join(TIMEOUT.toMillis() * 3);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Long> sorted;
        synchronized (latencies) {
            sorted = new ArrayList<>(latencies);
        }
        Collections.sort(sorted);
        return new Result(sorted.size(), List.copyOf(failures), percentile(sorted, 0.50), percentile(sorted, 0.99),
                sorted.isEmpty() ? Duration.ZERO : Duration.ofNanos(sorted.get(sorted.size() - 1)));
    }

    private static Duration percentile(List<Long> sorted, double p) {
        if (sorted.isEmpty()) {
            return Duration.ZERO;
        }
        int i = (int) Math.ceil(p * sorted.size()) - 1;
        return Duration.ofNanos(sorted.get(Math.max(0, Math.min(sorted.size() - 1, i))));
    }

    @Override
    public void close() {
        stop();
    }

    /** Requests served, failures (each with its cause), and latency of the served ones. */
    record Result(int served, List<String> failures, Duration p50, Duration p99, Duration max) {
    }
}
