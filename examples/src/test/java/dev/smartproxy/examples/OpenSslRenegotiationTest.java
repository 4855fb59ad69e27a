package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.HttpEchoServer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestPki;
import dev.smartproxy.testing.TlsClients;
import io.netty.handler.ssl.OpenSsl;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Client-initiated TLS renegotiation on the OpenSSL (BoringSSL) engine, which SmartProxy uses
 * when netty-tcnative is on the class path, as it is here (proxy-core's own tests run on the
 * JDK's engine). BoringSSL would refuse on its own, as a handshake failure; the proxy refuses
 * first, with the same reason on every engine.
 */
class OpenSslRenegotiationTest {
    private final Closer closer = new Closer();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private SmartProxy proxy;
    private int port;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(OpenSsl.isAvailable(), "netty-tcnative for this platform (the examples carry linux-x86_64)");
        HttpEchoServer web = closer.keep(new HttpEchoServer("web"));
        X509Bundle leaf = TestPki.shared().leaf("a.test");
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .certificate(CertificateSource.pem(leaf.getCertificatePathPEM(), leaf.getPrivateKeyPEM()))
                .route(Route.named("web").match(m -> m.ports(443).domains("a.test"))
                        .forward(f -> f.target("127.0.0.1", web.port()).tls(TlsMode.TERMINATE))), 443));
        port = Proxies.port(proxy, 443);
    }

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    /** A GET over {@code s}; returns the status line once the whole response (Content-Length) is read. */
    private static String get(SSLSocket s, String path) throws IOException {
        s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: a.test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        String status = TlsClients.readLine(in);
        int length = 0;
        String line;
        while ((line = TlsClients.readLine(in)) != null && !line.strip().isEmpty()) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        in.readNBytes(length);
        return status == null ? "" : status.strip();
    }

    @Test
    void aTls12ClientThatRenegotiatesIsClosedWithTheReason() throws Exception {
        try (SSLSocket s = TlsClients.open(port, "a.test", TlsClients.Wire.NORMAL)) {
            s.setEnabledProtocols(new String[] {"TLSv1.2"});
            s.startHandshake();
            assertThat(get(s, "/first")).isEqualTo("HTTP/1.1 200 OK");
            s.setSoTimeout(5000);
            boolean ended;
            try {
                s.startHandshake();
                get(s, "/second");
                ended = s.getInputStream().read() == -1;
            } catch (SocketTimeoutException e) {
                ended = false;
            } catch (IOException e) {
                ended = true;
            }
            assertThat(ended).as("the proxy ended the connection").isTrue();
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.TLS_RENEGOTIATION_REFUSED);
        Proxies.awaitIdle(proxy);
    }

    @Test
    void aTls13ClientsKeyUpdateIsServed() throws Exception {
        try (SSLSocket s = TlsClients.open(port, "a.test", TlsClients.Wire.NORMAL)) {
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
            assertThat(get(s, "/first")).isEqualTo("HTTP/1.1 200 OK");
            s.startHandshake(); // a KeyUpdate under TLS 1.3
            assertThat(get(s, "/second")).isEqualTo("HTTP/1.1 200 OK");
        }
        assertThat(events.awaitClosed(1).get(0).closeReason()).contains(CloseReason.CLIENT_CLOSED);
    }
}
