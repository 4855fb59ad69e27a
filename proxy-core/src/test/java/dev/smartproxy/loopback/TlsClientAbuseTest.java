package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * TLS clients that misbehave on a terminating route, with the JDK's {@link SSLSocket}: a TLS 1.2
 * client that renegotiates is closed ({@code TLS_RENEGOTIATION_REFUSED}) whatever TLS engine the
 * proxy runs; a TLS 1.3 client's post-handshake messages are not renegotiation; a client that
 * stalls in the handshake is closed after {@code initialDataTimeout} ({@code TLS_HANDSHAKE_TIMEOUT}).
 */
class TlsClientAbuseTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private SmartProxy proxy;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    private static CertificateSource cert(String name) {
        return TestPki.certificate(name);
    }

    private int start(SmartProxy.Builder builder) throws Exception {
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        proxy = closer.keep(Proxies.start(builder.listener(events).certificate(cert("a.test"))
                .route(Route.named("web").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE))), 443));
        return Proxies.port(proxy, 443);
    }

    /** Sends a GET over {@code s} and reads the response (head and Content-Length body); returns the head. */
    private static String get(Socket s, String path) throws IOException {
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: a.test\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        String line;
        int length = 0;
        while ((line = TlsClients.readLine(in)) != null && !line.equals("\r") && !line.isEmpty()) {
            head.append(line.strip()).append('\n');
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        assertThat(in.readNBytes(length)).hasSize(length);
        return head.toString();
    }

    /**
     * Reads what is left until the proxy ends the connection: true if it did (an end of stream, a
     * TLS alert or a reset), false if nothing ended it within 5 s.
     */
    private static boolean endedByPeer(Socket s) throws IOException {
        return endedByPeer(s, new ByteArrayOutputStream());
    }

    private void assertAnotherClientIsServed(int port) throws Exception {
        HttpClient client = HttpClient.newBuilder().sslContext(TestPki.shared().clientContext())
                .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://a.test:" + port + "/after"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("path=/after");
    }

    @Test
    void aTls12ClientThatRenegotiatesIsClosedAndOthersAreStillServed() throws Exception {
        int port = start(SmartProxy.builder());
        try (SSLSocket s = TlsClients.open(port, "a.test", TlsClients.Wire.NORMAL)) {
            s.setEnabledProtocols(new String[] {"TLSv1.2"});
            s.startHandshake();
            assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.2");
            assertThat(get(s, "/first")).startsWith("HTTP/1.1 200");
            s.setSoTimeout(5000);
            boolean ended;
            try {
                s.startHandshake(); // a client-initiated renegotiation: a new ClientHello, encrypted
                get(s, "/second");
                ended = endedByPeer(s);
            } catch (java.net.SocketTimeoutException e) {
                ended = false;
            } catch (IOException e) {
                ended = true; // the proxy closed the connection: the renegotiation or the request failed
            }
            assertThat(ended).as("the proxy ended the connection").isTrue();
        }
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason()).contains(CloseReason.TLS_RENEGOTIATION_REFUSED);
        Proxies.awaitIdle(proxy);
        assertThat(proxy.stats().closed(CloseReason.TLS_RENEGOTIATION_REFUSED)).isEqualTo(1);
        assertAnotherClientIsServed(port);
    }

    @Test
    void aTls13ClientsKeyUpdateIsNotRenegotiation() throws Exception {
        int port = start(SmartProxy.builder());
        try (SSLSocket s = TlsClients.open(port, "a.test", TlsClients.Wire.NORMAL)) {
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
            assertThat(s.getSession().getProtocol()).isEqualTo("TLSv1.3");
            assertThat(get(s, "/first")).startsWith("HTTP/1.1 200");
            s.startHandshake(); // TLS 1.3: the JDK sends a KeyUpdate, a post-handshake message
            assertThat(get(s, "/second")).startsWith("HTTP/1.1 200");
            assertThat(get(s, "/third")).startsWith("HTTP/1.1 200");
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void aClientThatStallsInTheHandshakeIsClosedAfterTheInitialDataTimeout() throws Exception {
        int port = start(SmartProxy.builder().initialDataTimeout(Duration.ofMillis(300)));
        SSLEngine engine = TestPki.shared().clientContext().createSSLEngine("a.test", port);
        engine.setUseClientMode(true);
        SSLParameters params = engine.getSSLParameters();
        params.setServerNames(List.of(new SNIHostName("a.test")));
        engine.setSSLParameters(params);
        ByteBuffer hello = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), hello);
        hello.flip();
        long sent;
        try (Socket s = TlsClients.plain(port)) {
            s.getOutputStream().write(hello.array(), 0, hello.limit()); // the ClientHello, then nothing
            s.getOutputStream().flush();
            sent = System.nanoTime();
            ByteArrayOutputStream fromProxy = new ByteArrayOutputStream();
            assertThat(endedByPeer(s, fromProxy)).isTrue();
            assertThat(fromProxy.size()).as("the proxy answered the ClientHello").isPositive();
        }
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason()).contains(CloseReason.TLS_HANDSHAKE_TIMEOUT);
        // Netty's own default would have been 10 s; the test's own read timeout is 20 s.
        assertThat(Duration.ofNanos(System.nanoTime() - sent)).isLessThan(Duration.ofSeconds(5));
        Proxies.awaitIdle(proxy);
        assertAnotherClientIsServed(port);
    }

    private static boolean endedByPeer(Socket s, ByteArrayOutputStream into) throws IOException {
        s.setSoTimeout(5000);
        try {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) != -1) {
                into.write(buf, 0, n);
            }
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // a TLS alert or a reset: ended too
        }
    }
}
