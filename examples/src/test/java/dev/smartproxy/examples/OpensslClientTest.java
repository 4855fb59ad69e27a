package dev.smartproxy.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code openssl s_client -servername} through the demo proxy: a TLS client that is not the
 * JDK's reaches the right backend by SNI and verifies that backend's certificate chain.
 * {@code .ci/run} installs openssl when the machine lacks it.
 */
class OpensslClientTest {
    @Test
    void opensslReachesTheBackendNamedBySni(@TempDir Path dir) throws Exception {
        try (Demo demo = Demo.start()) {
            Path ca = dir.resolve("ca.pem");
            demo.writeCaPem(ca);
            Process p = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + demo.tlsPort(),
                    "-servername", "b.test", "-verify_hostname", "b.test", "-verify_return_error",
                    "-CAfile", ca.toString(), "-ign_eof")
                    .redirectErrorStream(true).start();
            p.getOutputStream().write("hello openssl\nquit\n".getBytes(StandardCharsets.US_ASCII));
            p.getOutputStream().close();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("openssl finished").isTrue();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(out).contains("b.test says: hello openssl", "bye from b.test", "Verify return code: 0 (ok)");
            assertThat(out).contains("CN = b.test");
        }
    }
}
