package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The README's demo: everything on this machine, nothing to install.
 *
 * <p>It makes a throwaway certificate authority, starts two TLS backends ({@code a.test},
 * {@code b.test}) and a plain TCP backend that speaks first, starts a SmartProxy that routes
 * port 443 by SNI (passthrough) and port 2525 as plain TCP, drives real clients through it (the
 * JDK's TLS client and a TCP socket, plus one client with an unknown name), and prints each
 * connection's route, kind, bytes and close reason.
 */
public final class Demo implements AutoCloseable {
    private final List<ConnectionInfo> closed = new CopyOnWriteArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "demo-backend");
        t.setDaemon(true);
        return t;
    });
    private final List<ServerSocket> backends = new ArrayList<>();
    private final X509Bundle ca;
    private final SmartProxy proxy;

    private Demo() throws Exception {
        Instant now = Instant.now();
        ca = new CertificateBuilder().subject("CN=SmartProxy Demo CA").setIsCertificateAuthority(true)
                .notBefore(now.minus(1, ChronoUnit.HOURS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .ecp256().buildSelfSigned();
        int a = tlsBackend("a.test");
        int b = tlsBackend("b.test");
        int plain = plainBackend();
        proxy = SmartProxy.builder()
                .listener(new ProxyEventListener() {
                    @Override
                    public void onClosed(ConnectionInfo c) {
                        closed.add(c);
                    }
                })
                .route(Route.named("site-a").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", a).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("site-b").match(m -> m.ports(443).domains("b.test", "*.b.test"))
                        .forward(f -> f.target("127.0.0.1", b).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("plain-tcp").match(m -> m.ports(2525))
                        .forward(f -> f.target("127.0.0.1", plain)))
                // Run the port-443 config on ephemeral loopback ports: the routes stay as written.
                .listen(443, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .listen(2525, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .gracefulShutdownTimeout(Duration.ofSeconds(1))
                .build()
                .start();
    }

    /** Starts the backends and the proxy; {@link #close()} stops everything. */
    public static Demo start() throws Exception {
        return new Demo();
    }

    public static void main(String[] args) throws Exception {
        try (Demo demo = start()) {
            demo.run(System.out);
        }
    }

    /** The proxy's bound port for route port 443. */
    public int tlsPort() {
        return proxy.boundAddress(443).getPort();
    }

    /** The proxy's bound port for route port 2525. */
    public int plainPort() {
        return proxy.boundAddress(2525).getPort();
    }

    /** The proxy. */
    public SmartProxy proxy() {
        return proxy;
    }

    /** Writes the demo CA certificate to {@code file} (PEM), for clients such as {@code openssl s_client}. */
    public void writeCaPem(Path file) throws IOException {
        Files.writeString(file, ca.getCertificatePEM());
    }

    /** Drives the clients, prints what happened, and returns the closed connections. */
    public List<ConnectionInfo> run(PrintStream out) throws Exception {
        out.println("SmartProxy demo: port 443 -> 127.0.0.1:" + tlsPort() + " (SNI passthrough), port 2525 -> 127.0.0.1:"
                + plainPort() + " (plain TCP)");
        out.println();
        for (String name : List.of("a.test", "b.test", "www.b.test")) {
            String reply = tlsRequest(name, "hello");
            out.printf("TLS client, SNI %-11s -> backend said: %s%n", name, reply);
        }
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), plainPort())) {
            BufferedReader in = reader(s);
            String banner = in.readLine();
            writer(s).println("PING");
            out.printf("TCP client             -> banner: %s; reply: %s%n", banner, in.readLine());
        }
        try {
            tlsRequest("unknown.test", "hello");
            out.println("TLS client, SNI unknown.test -> unexpectedly answered");
        } catch (IOException e) {
            out.println("TLS client, SNI unknown.test -> refused by the proxy (" + e.getClass().getSimpleName() + ")");
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((closed.size() < 5 || proxy.stats().open() > 0) && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        out.println();
        out.println("Connections as the proxy recorded them:");
        out.printf("%-3s %-10s %-12s %-12s %8s %8s  %s%n", "id", "route", "kind", "sni", "in", "out", "close reason");
        List<ConnectionInfo> done = new ArrayList<>(closed);
        done.sort((x, y) -> Long.compare(x.id(), y.id()));
        for (ConnectionInfo c : done) {
            out.printf("%-3d %-10s %-12s %-12s %8d %8d  %s%n", c.id(), c.routeName().orElse("-"),
                    c.kind().map(Enum::name).orElse("-"), c.sni().orElse("-"), c.bytesFromClient(),
                    c.bytesFromBackend(), c.closeReason().map(Enum::name).orElse("-"));
        }
        out.println();
        out.println("Totals: " + proxy.stats());
        return done;
    }

    private String tlsRequest(String sni, String line) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, ca.toTrustManagerFactory().getTrustManagers(), null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", tlsPort())) {
            s.setSoTimeout(10_000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(sni)));
            p.setEndpointIdentificationAlgorithm("HTTPS"); // verify the backend's certificate for the name
            s.setSSLParameters(p);
            s.startHandshake();
            writer(s).println(line);
            return reader(s).readLine();
        }
    }

    private int tlsBackend(String name) throws Exception {
        Instant now = Instant.now();
        X509Bundle cert = new CertificateBuilder().subject("CN=" + name).addSanDnsName(name).addSanDnsName("www." + name)
                .notBefore(now.minus(1, ChronoUnit.HOURS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(ca);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(cert.toKeyManagerFactory().getKeyManagers(), null, null);
        SSLServerSocket server = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 50,
                InetAddress.getLoopbackAddress());
        return serve(server, s -> {
            BufferedReader in = reader(s);
            PrintWriter out = writer(s);
            for (String line; (line = in.readLine()) != null; ) {
                if (line.equals("quit")) {
                    out.println("bye from " + name);
                    return;
                }
                out.println(name + " says: " + line);
            }
        });
    }

    private int plainBackend() throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        return serve(server, s -> {
            PrintWriter out = writer(s);
            out.println("220 plain backend ready"); // speaks first: the proxy must route at accept
            String line = reader(s).readLine();
            out.println("PONG " + line);
        });
    }

    private interface Session {
        void handle(Socket s) throws IOException;
    }

    private int serve(ServerSocket server, Session session) {
        backends.add(server);
        pool.execute(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    pool.execute(() -> {
                        try (s) {
                            session.handle(s);
                        } catch (IOException ignored) {
                            // the client went away
                        }
                    });
                } catch (IOException closed) {
                    return;
                }
            }
        });
        return server.getLocalPort();
    }

    private static BufferedReader reader(Socket s) throws IOException {
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
    }

    private static PrintWriter writer(Socket s) throws IOException {
        return new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        proxy.close();
        for (ServerSocket s : backends) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        pool.shutdownNow();
    }
}
