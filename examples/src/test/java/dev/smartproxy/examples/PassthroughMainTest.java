package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLSocket;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The bench's standalone entry point parses its arguments strictly and relays TLS unopened. */
class PassthroughMainTest {
    @Test
    void relaysAnyNameToTheBackendByDefault() throws Exception {
        try (TestServer backend = TestServer.tls("a.test", s -> {
            s.getOutputStream().write((TlsClients.readLine(s.getInputStream()) + "!\n").getBytes());
        })) {
            PassthroughMain.Options o = PassthroughMain.parse(new String[] {
                "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:" + backend.port(), "--transport", "nio"});
            assertThat(o.sni()).containsExactly("*");
            assertThat(o.transport()).isEqualTo(IoTransport.NIO);
            try (SmartProxy proxy = PassthroughMain.build(o).start()) {
                try (SSLSocket s = TlsClients.connect(proxy.boundAddress(443).getPort(), "a.test")) {
                    TlsClients.writeLine(s, "hi");
                    assertThat(TlsClients.readLine(s.getInputStream())).isEqualTo("hi!");
                }
            }
        }
    }

    @Test
    void rejectsBadArgumentsWithTheirName() {
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1"}))
                .hasMessageContaining("--listen").hasMessageContaining("HOST:PORT");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend", "x:0"}))
                .hasMessageContaining("--backend");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1"}))
                .hasMessageContaining("required");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--bogus", "1"}))
                .hasMessageContaining("--bogus");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2", "--transport", "kqueue"})).hasMessageContaining("--transport");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2", "--max-connections-per-ip", "-1"}))
                .hasMessage("--max-connections-per-ip: '-1' (expected: 0 for no limit, or a positive count)");
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2", "--connection-rate-per-minute", "x"})).hasMessageContaining("--connection-rate-per-minute");
    }

    @Test
    void theLimitsDefaultToTheLibrarysAndCanBeLifted() {
        PassthroughMain.Options d = PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2"});
        assertThat(d.maxConnectionsPerIp()).isEqualTo(100);
        assertThat(d.connectionRatePerMinute()).isEqualTo(300);
        PassthroughMain.Options open = PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2", "--max-connections-per-ip", "0", "--connection-rate-per-minute", "0"});
        assertThat(PassthroughMain.build(open).admission().maxConnectionsPerIp()).isZero();
        assertThat(PassthroughMain.build(open).admission().connectionRateLimitPerMinute()).isZero();
    }

    @Test
    void terminateModeServesHttpsOverTheBundledOpenSsl(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        assertThat(dev.smartproxy.internal.tls.TlsProviders.provider())
                .as("netty-tcnative is on the examples' class path").isEqualTo(io.netty.handler.ssl.SslProvider.OPENSSL);
        var leaf = dev.smartproxy.testing.TestPki.shared().leaf("a.test");
        java.nio.file.Path cert = java.nio.file.Files.writeString(dir.resolve("a.pem"), leaf.getCertificatePathPEM());
        java.nio.file.Path key = java.nio.file.Files.writeString(dir.resolve("a.key"), leaf.getPrivateKeyPEM());
        try (dev.smartproxy.testing.HttpEchoServer backend = new dev.smartproxy.testing.HttpEchoServer("plain")) {
            PassthroughMain.Options o = PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:0",
                "--backend", "127.0.0.1:" + backend.port(), "--cert", cert.toString(), "--key", key.toString()});
            assertThat(o.terminate()).isTrue();
            try (SmartProxy proxy = PassthroughMain.build(o).start()) {
                try (SSLSocket s = TlsClients.connect(proxy.boundAddress(443).getPort(), "a.test")) {
                    s.getOutputStream().write("GET /hello HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    String response = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                    assertThat(response).startsWith("HTTP/1.1 200").contains("server=plain", "path=/hello",
                            "x-forwarded-proto=https");
                }
            }
        }
        assertThatThrownBy(() -> PassthroughMain.parse(new String[] {"--listen", "127.0.0.1:1", "--backend",
            "127.0.0.1:2", "--cert", "x.pem"})).hasMessageContaining("--cert and --key");
    }
}
