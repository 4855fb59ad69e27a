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
    }
}
