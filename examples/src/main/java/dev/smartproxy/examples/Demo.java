package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.WebSocketSettings;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import io.netty.handler.ssl.SslContextBuilder;
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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The README's demo: everything on this machine, nothing to install.
 *
 * <p>It makes a throwaway certificate authority and starts its backends: two TLS line servers
 * ({@code a.test}, {@code b.test}), a plain TCP server that speaks first, a plain HTTP and
 * WebSocket server, and a TLS WebSocket server. Then it starts one SmartProxy with all three
 * kinds of connection:
 * <pre>
 * port 443   SNI a.test, b.test, *.b.test  PASSTHROUGH  the TLS bytes are relayed unopened
 * port 443   SNI localhost                 TERMINATED   HTTPS and wss end at the proxy, which pings
 *                                                       each WebSocket leg every second
 * port 8443  SNI localhost                 PASSTHROUGH  wss relayed unopened: never pinged
 * port 2525  any connection                PLAIN        raw TCP, routed at accept
 * </pre>
 * It drives real clients through it (the JDK's TLS socket and WebSocket client, a TCP socket,
 * and one TLS client with an unknown name) and prints each connection's route, kind, bytes and
 * close reason. The WebSocket clients use the name {@code localhost} because it resolves on
 * every machine; the other names are only ever sent as SNI.
 */
public final class Demo implements AutoCloseable {
    /** The heartbeat on the terminated route, short so that the demo shows it at work. */
    static final Duration PING_INTERVAL = Duration.ofSeconds(1);

    private final List<ConnectionInfo> closed = new CopyOnWriteArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "demo-backend");
        t.setDaemon(true);
        return t;
    });
    private final List<ServerSocket> backends = new ArrayList<>();
    private final X509Bundle ca;
    private final WebBackend web;
    private final WebBackend wss;
    private final SmartProxy proxy;

    private Demo() throws Exception {
        ca = new CertificateBuilder().subject("CN=SmartProxy Demo CA").setIsCertificateAuthority(true)
                .notBefore(Instant.now().minus(1, ChronoUnit.HOURS)).notAfter(Instant.now().plus(1, ChronoUnit.DAYS))
                .ecp256().buildSelfSigned();
        int a = tlsBackend("a.test");
        int b = tlsBackend("b.test");
        int plain = plainBackend();
        X509Bundle localhost = certificate("localhost");
        web = new WebBackend("web", null); // plain HTTP: the proxy ends the client's TLS
        wss = new WebBackend("wss-backend", SslContextBuilder.forServer(localhost.toKeyManagerFactory()).build());
        int webPort = web.port();
        int wssPort = wss.port();
        proxy = SmartProxy.builder()
                .listener(new ProxyEventListener() {
                    @Override
                    public void onClosed(ConnectionInfo c) {
                        closed.add(c);
                    }
                })
                // The proxy's own certificate, for the names it terminates (here: localhost).
                .certificate(CertificateSource.pem(localhost.getCertificatePathPEM(), localhost.getPrivateKeyPEM()))
                .route(Route.named("site-a").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", a).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("site-b").match(m -> m.ports(443).domains("b.test", "*.b.test"))
                        .forward(f -> f.target("127.0.0.1", b).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("web").match(m -> m.ports(443).domains("localhost"))
                        .forward(f -> f.target("127.0.0.1", webPort).tls(TlsMode.TERMINATE)
                                .webSocket(WebSocketSettings.builder().pingInterval(PING_INTERVAL).build())))
                .route(Route.named("wss-passthrough").match(m -> m.ports(8443).domains("localhost"))
                        .forward(f -> f.target("127.0.0.1", wssPort).tls(TlsMode.PASSTHROUGH)))
                .route(Route.named("plain-tcp").match(m -> m.ports(2525))
                        .forward(f -> f.target("127.0.0.1", plain)))
                // Run the config on ephemeral loopback ports: the routes stay as written.
                .listen(443, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .listen(8443, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .listen(2525, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .gracefulShutdownTimeout(Duration.ofSeconds(1))
                .build()
                .start();
    }

    /** Starts the backends and the proxy; {@link #close()} stops everything. */
    public static Demo start() throws Exception {
        return new Demo();
    }

    /** Runs the demo and prints what happened to standard output. */
    public static void main(String[] args) throws Exception {
        try (Demo demo = start()) {
            demo.run(System.out);
        }
    }

    /** The proxy's bound port for route port 443. */
    public int tlsPort() {
        return proxy.boundAddress(443).getPort();
    }

    /** The proxy's bound port for route port 8443 (the passthrough WebSocket). */
    public int wssPort() {
        return proxy.boundAddress(8443).getPort();
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
        out.printf("SmartProxy demo, on 127.0.0.1:%n");
        out.printf("  route port 443  -> %-5d SNI a.test, b.test, *.b.test: PASSTHROUGH; SNI localhost: TERMINATED "
                + "(HTTPS, wss pinged every %d s)%n", tlsPort(), PING_INTERVAL.toSeconds());
        out.printf("  route port 8443 -> %-5d SNI localhost: PASSTHROUGH (wss relayed unopened)%n", wssPort());
        out.printf("  route port 2525 -> %-5d PLAIN (raw TCP)%n%n", plainPort());

        for (String name : List.of("a.test", "b.test", "www.b.test")) {
            out.printf("TLS client, SNI %-12s -> backend said: %s%n", name, tlsRequest(name, "hello"));
        }
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), plainPort())) {
            BufferedReader in = reader(s);
            String banner = in.readLine();
            writer(s).println("PING");
            out.printf("TCP client                  -> banner: %s; reply: %s%n", banner, in.readLine());
        }
        try {
            tlsRequest("unknown.test", "hello");
            out.println("TLS client, SNI unknown.test -> unexpectedly answered");
        } catch (IOException e) {
            out.println("TLS client, SNI unknown.test -> refused by the proxy (" + e.getClass().getSimpleName() + ")");
        }
        out.printf("HTTPS GET /hello, localhost -> %s%n", httpsGet("localhost", tlsPort(), "/hello"));

        // Two WebSockets open side by side for two heartbeats: only the terminated one is pinged.
        try (Ws terminated = Ws.open(clientTls(), URI.create("wss://localhost:" + tlsPort() + "/echo"));
             Ws passthrough = Ws.open(clientTls(), URI.create("wss://localhost:" + wssPort() + "/echo"))) {
            String t = terminated.echo("hi");
            String p = passthrough.echo("hi");
            await(() -> terminated.pings.get() >= 2 && web.pingsReceived() >= 2);
            out.printf("WebSocket, route web (TERMINATED)              -> %s; pinged: client leg %d, backend leg %d%n",
                    t, terminated.pings.get(), web.pingsReceived());
            out.printf("WebSocket, route wss-passthrough (PASSTHROUGH) -> %s; pinged: client leg %d, backend leg %d%n",
                    p, passthrough.pings.get(), wss.pingsReceived());
        }

        await(() -> closed.size() >= 8 && proxy.stats().open() == 0);
        out.println();
        out.println("Connections as the proxy recorded them:");
        out.printf("%-3s %-16s %-12s %-12s %6s %6s  %s%n", "id", "route", "kind", "sni", "in", "out", "close reason");
        List<ConnectionInfo> done = new ArrayList<>(closed);
        done.sort((x, y) -> Long.compare(x.id(), y.id()));
        for (ConnectionInfo c : done) {
            out.printf("%-3d %-16s %-12s %-12s %6d %6d  %s%n", c.id(), c.routeName().orElse("-"),
                    c.kind().map(Enum::name).orElse("-"), c.sni().orElse("-"), c.bytesFromClient(),
                    c.bytesFromBackend(), c.closeReason().map(Enum::name).orElse("-"));
        }
        out.println();
        out.println("Totals: " + proxy.stats());
        return done;
    }

    /** Waits (10 s at most) until {@code condition} holds. */
    private static void await(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private SSLContext clientTls() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, ca.toTrustManagerFactory().getTrustManagers(), null);
        return ctx;
    }

    private SSLSocket tlsSocket(String sni, int port) throws Exception {
        SSLSocket s = (SSLSocket) clientTls().getSocketFactory().createSocket("127.0.0.1", port);
        s.setSoTimeout(10_000);
        SSLParameters p = s.getSSLParameters();
        p.setServerNames(List.of(new SNIHostName(sni)));
        p.setEndpointIdentificationAlgorithm("HTTPS"); // verify the certificate for the name
        s.setSSLParameters(p);
        s.startHandshake();
        return s;
    }

    private String tlsRequest(String sni, String line) throws Exception {
        try (SSLSocket s = tlsSocket(sni, tlsPort())) {
            writer(s).println(line);
            return reader(s).readLine();
        }
    }

    /** An HTTP/1.1 GET over TLS, as a browser sends it; returns the status line and the body. */
    private String httpsGet(String host, int port, String path) throws Exception {
        try (SSLSocket s = tlsSocket(host, port)) {
            String request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nConnection: close\r\n\r\n";
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return response.lines().findFirst().orElse("") + "; " + response.substring(response.indexOf("\r\n\r\n") + 4).strip();
        }
    }

    /** The JDK's WebSocket client: keeps the text it receives and counts the pings (it answers them itself). */
    private static final class Ws implements WebSocket.Listener, AutoCloseable {
        final AtomicInteger pings = new AtomicInteger();
        final BlockingQueue<String> received = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closedWith = new CompletableFuture<>();
        WebSocket ws;

        static Ws open(SSLContext tls, URI uri) throws Exception {
            Ws c = new Ws();
            c.ws = HttpClient.newBuilder().sslContext(tls).build().newWebSocketBuilder()
                    .buildAsync(uri, c).get(10, TimeUnit.SECONDS);
            return c;
        }

        String echo(String text) throws Exception {
            ws.sendText(text, true).get(10, TimeUnit.SECONDS);
            return received.poll(10, TimeUnit.SECONDS);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            received.add(data.toString());
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
            pings.incrementAndGet();
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closedWith.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closedWith.completeExceptionally(error);
        }

        /** Sends Close 1000 and waits for the other side's Close. */
        @Override
        public void close() throws Exception {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
            closedWith.get(10, TimeUnit.SECONDS);
        }
    }

    private X509Bundle certificate(String name) throws Exception {
        Instant now = Instant.now();
        return new CertificateBuilder().subject("CN=" + name).addSanDnsName(name).addSanDnsName("www." + name)
                .notBefore(now.minus(1, ChronoUnit.HOURS)).notAfter(now.plus(1, ChronoUnit.DAYS))
                .addExtendedKeyUsageServerAuth().ecp256().buildIssuedBy(ca);
    }

    private int tlsBackend(String name) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(certificate(name).toKeyManagerFactory().getKeyManagers(), null, null);
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
        web.close();
        wss.close();
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
