package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.ProxyProtocol;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * PROXY protocol out, against a backend that requires it: HAProxy with {@code accept-proxy},
 * which refuses a connection whose first bytes are not a PROXY header and answers each request
 * with the client and listener addresses the header named (and the v2 authority TLV). Clients
 * connect from 127.0.0.2 and 127.0.0.3 to the proxy on 127.0.0.1, so the addresses HAProxy
 * reports can only come from the header.
 */
class ProxyProtocolOutTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** What HAProxy answers: source, destination, the v2 authority TLV, and the SNI of its own TLS (empty when absent). */
    private static final String ANSWER =
            "src=%[src]:%[src_port] dst=%[dst]:%[dst_port] authority=%[fc_pp_authority] sni=%[ssl_fc_sni]";

    @Test
    void plainTcpRouteSendsV1BeforeTheClientsFirstBytes() throws Exception {
        HAProxy backend = closer.keep(HAProxy.start(false));
        SmartProxy proxy = start(SmartProxy.builder().route(Route.named("tcp").match(m -> m.ports(25))
                .forward(f -> f.target("127.0.0.1", backend.port).sendProxyProtocol(ProxyProtocol.V1))), 25);
        int port = Proxies.port(proxy, 25);
        String request = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
        try (Socket c = connectFrom("127.0.0.2", port)) {
            // written at once: the bytes wait in the relay's pending buffer while it connects
            c.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            assertThat(readResponse(c.getInputStream()))
                    .isEqualTo("src=127.0.0.2:" + c.getLocalPort() + " dst=127.0.0.1:" + port + " authority= sni=");
        }
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.bytesFromClient()).as("the header is not a client byte").isEqualTo(request.length());
    }

    @Test
    void plainTcpRouteSendsV2OnNio() throws Exception {
        HAProxy backend = closer.keep(HAProxy.start(false));
        SmartProxy proxy = start(SmartProxy.builder().transport(IoTransport.NIO).route(Route.named("tcp")
                .match(m -> m.ports(25))
                .forward(f -> f.target("127.0.0.1", backend.port).sendProxyProtocol(ProxyProtocol.V2))), 25);
        int port = Proxies.port(proxy, 25);
        try (Socket c = connectFrom("127.0.0.3", port)) {
            c.getOutputStream().write("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(readResponse(c.getInputStream()))
                    .isEqualTo("src=127.0.0.3:" + c.getLocalPort() + " dst=127.0.0.1:" + port + " authority= sni=");
        }
    }

    @Test
    void passthroughRouteSendsV2WithTheSniBeforeTheClientHello() throws Exception {
        HAProxy backend = closer.keep(HAProxy.start(true)); // HAProxy terminates the client's TLS
        SmartProxy proxy = start(SmartProxy.builder().route(Route.named("pass").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("127.0.0.1", backend.port).tls(TlsMode.PASSTHROUGH)
                        .sendProxyProtocol(ProxyProtocol.V2))), 443);
        int port = Proxies.port(proxy, 443);
        try (SSLSocket c = tlsFrom("127.0.0.2", port, "a.test")) {
            c.getOutputStream().write("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            c.getOutputStream().flush();
            assertThat(readResponse(c.getInputStream()))
                    .isEqualTo("src=127.0.0.2:" + c.getLocalPort() + " dst=127.0.0.1:" + port + " authority=a.test sni=a.test");
        }
    }

    @Test
    void terminatedRouteSendsAHeaderPerBackendConnectionForItsOwnClient() throws Exception {
        HAProxy backend = closer.keep(HAProxy.start(false));
        SmartProxy proxy = start(SmartProxy.builder().certificate(TestPki.certificate("a.test"))
                .route(Route.named("app").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", backend.port).tls(TlsMode.TERMINATE)
                                .sendProxyProtocol(ProxyProtocol.V2))), 443);
        int port = Proxies.port(proxy, 443);
        try (SSLSocket first = tlsFrom("127.0.0.2", port, "a.test");
             SSLSocket second = tlsFrom("127.0.0.3", port, "a.test")) {
            String expectFirst = "src=127.0.0.2:" + first.getLocalPort() + " dst=127.0.0.1:" + port + " authority=a.test sni=";
            String expectSecond = "src=127.0.0.3:" + second.getLocalPort() + " dst=127.0.0.1:" + port + " authority=a.test sni=";
            // two requests on the first connection: its backend connection is reused, its header still right
            assertThat(exchange(first)).isEqualTo(expectFirst);
            assertThat(exchange(second)).isEqualTo(expectSecond);
            assertThat(exchange(first)).isEqualTo(expectFirst);
        }
    }

    @Test
    void plainHttpRouteSendsV1() throws Exception {
        HAProxy backend = closer.keep(HAProxy.start(false));
        SmartProxy proxy = start(SmartProxy.builder().route(Route.named("web").match(m -> m.ports(80))
                .forward(f -> f.target("127.0.0.1", backend.port).http().sendProxyProtocol(ProxyProtocol.V1))), 80);
        int port = Proxies.port(proxy, 80);
        try (Socket c = connectFrom("127.0.0.2", port)) {
            assertThat(exchange(c)).isEqualTo("src=127.0.0.2:" + c.getLocalPort() + " dst=127.0.0.1:" + port + " authority= sni=");
        }
    }

    // ------------------------------------------------------------------ helpers

    private SmartProxy start(SmartProxy.Builder builder, int routePort) {
        return closer.keep(Proxies.start(builder.listener(events), routePort));
    }

    private static Socket connectFrom(String source, int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.bind(new InetSocketAddress(source, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(20_000);
        return s;
    }

    private static SSLSocket tlsFrom(String source, int port, String sni) throws IOException {
        Socket raw = connectFrom(source, port);
        SSLSocket s = (SSLSocket) TestPki.shared().clientContext().getSocketFactory()
                .createSocket(raw, sni, port, true);
        SSLParameters params = s.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName(sni)));
        params.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(params);
        s.startHandshake();
        return s;
    }

    /** One keep-alive request and its body. */
    private static String exchange(Socket s) throws IOException {
        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return readResponse(s.getInputStream());
    }

    /** Reads one response with a Content-Length and returns its body; asserts a 200. */
    private static String readResponse(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
        }
        String h = head.toString(StandardCharsets.ISO_8859_1);
        assertThat(h).startsWith("HTTP/1.1 200");
        int length = -1;
        for (String line : h.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        assertThat(length).as("content-length in " + h).isNotNegative();
        return new String(in.readNBytes(length), StandardCharsets.US_ASCII).trim();
    }

    /** HAProxy on a temporary config, in the foreground; killed on close. */
    static final class HAProxy implements AutoCloseable {
        final int port;
        private final Process process;
        private final Path dir;

        private HAProxy(int port, Process process, Path dir) {
            this.port = port;
            this.process = process;
            this.dir = dir;
        }

        /** Starts HAProxy requiring the PROXY protocol on an ephemeral loopback port; with {@code tls}, it terminates TLS for a.test. */
        static HAProxy start(boolean tls) throws Exception {
            Path dir = Files.createTempDirectory("haproxy");
            String ssl = "";
            if (tls) {
                X509Bundle leaf = TestPki.shared().leaf("a.test");
                Path pem = dir.resolve("a.test.pem");
                Files.writeString(pem, leaf.getCertificatePathPEM() + leaf.getPrivateKeyPEM());
                ssl = " ssl crt " + pem;
            }
            IOException last = null;
            for (int attempt = 0; attempt < 5; attempt++) {
                int port;
                try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                    port = probe.getLocalPort(); // HAProxy binds what its config names: a free port, just released
                }
                Path cfg = dir.resolve("haproxy.cfg");
                Files.writeString(cfg, String.join("\n",
                        "global",
                        "  nbthread 1",
                        "defaults",
                        "  mode http",
                        "  timeout connect 5s",
                        "  timeout client 30s",
                        "  timeout server 30s",
                        "frontend requires_proxy_protocol",
                        "  bind 127.0.0.1:" + port + " accept-proxy" + ssl,
                        "  http-request return status 200 content-type text/plain lf-string \"" + ANSWER + "\"",
                        ""));
                Process p = new ProcessBuilder("haproxy", "-f", cfg.toString(), "-db")
                        .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy.log").toFile()).start();
                HAProxy h = new HAProxy(port, p, dir);
                try {
                    Await.until("haproxy listening on " + port, () -> !p.isAlive() || h.listening());
                    if (p.isAlive()) {
                        return h;
                    }
                    last = new IOException("haproxy exited: " + Files.readString(dir.resolve("haproxy.log")));
                } catch (AssertionError | RuntimeException e) {
                    h.close();
                    throw e;
                }
            }
            throw last;
        }

        private boolean listening() {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return true;
            } catch (IOException e) {
                return false;
            }
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }
}
