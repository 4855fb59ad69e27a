package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.TcpKeepAlive;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TlsClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A backend that vanishes without a FIN or RST is found by TCP keepalive and closed with a
 * reason. The backend runs in a network namespace this test creates, behind a veth pair; its
 * address is then removed inside the namespace, so every packet to it is dropped in silence,
 * as with a pulled cable or a crashed host.
 *
 * <p>Needs root and iproute2 ({@code ip netns}) and python3 for the backend; {@code .ci/run}
 * provides them. Without them the test is skipped with a message saying so.
 */
class DeadPeerTest {
    private static final int BACKEND_PORT = 7007;
    private final String ns = "spdead" + ProcessHandle.current().pid() % 100000;
    private final String veth = "spd" + ThreadLocalRandom.current().nextInt(100000, 999999);
    private final int subnet = ThreadLocalRandom.current().nextInt(1, 250);
    private final String backendIp = "10.213." + subnet + ".2";
    private final List<String[]> cleanup = new ArrayList<>();
    private final Proxies.Recorder events = new Proxies.Recorder();
    private Process backend;
    private SmartProxy proxy;

    private static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    private static boolean available(String... cmd) {
        try {
            return run(cmd) == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(available("ip", "-V") && available("python3", "-V"),
                "DeadPeerTest cannot run: it needs iproute2 (ip) and python3; .ci/run installs them");
        assumeTrue(available("ip", "netns", "add", ns),
                "DeadPeerTest cannot run: creating a network namespace needs root (CAP_NET_ADMIN)");
        cleanup.add(new String[] {"ip", "netns", "del", ns});
        cleanup.add(new String[] {"ip", "link", "del", veth + "a"});
        assertThat(run("ip", "link", "add", veth + "a", "type", "veth", "peer", "name", veth + "b")).isZero();
        assertThat(run("ip", "link", "set", veth + "b", "netns", ns)).isZero();
        assertThat(run("ip", "addr", "add", "10.213." + subnet + ".1/30", "dev", veth + "a")).isZero();
        assertThat(run("ip", "link", "set", veth + "a", "up")).isZero();
        assertThat(run("ip", "netns", "exec", ns, "ip", "addr", "add", backendIp + "/30", "dev", veth + "b")).isZero();
        assertThat(run("ip", "netns", "exec", ns, "ip", "link", "set", veth + "b", "up")).isZero();
        String echo = String.join("\n",
                "import socketserver, sys",
                "class Echo(socketserver.BaseRequestHandler):",
                "    def handle(self):",
                "        while True:",
                "            d = self.request.recv(65536)",
                "            if not d: return",
                "            self.request.sendall(d)",
                "socketserver.ThreadingTCPServer.allow_reuse_address = True",
                "srv = socketserver.ThreadingTCPServer(('" + backendIp + "', " + BACKEND_PORT + "), Echo)",
                "print('ready', flush=True)",
                "srv.serve_forever()");
        backend = new ProcessBuilder("ip", "netns", "exec", ns, "python3", "-c", echo).redirectErrorStream(true).start();
        String ready = new BufferedReader(new InputStreamReader(backend.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        assertThat(ready).as("the backend in the namespace").isEqualTo("ready");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (String[] cmd : cleanup) {
            run(cmd);
        }
    }

    @Test
    void silentBackendIsFoundByTcpKeepAliveAndTheClientIsClosed() throws Exception {
        proxy = Proxies.start(SmartProxy.builder().listener(events)
                // Probes after 1 s idle, every 1 s, 2 unanswered: a dead peer is found in about 3 s.
                .tcpKeepAlive(TcpKeepAlive.builder().idle(Duration.ofSeconds(1)).interval(Duration.ofSeconds(1))
                        .probes(2).userTimeout(Duration.ZERO).build())
                .route(Route.named("far").match(m -> m.ports(25)).forward(f -> f.target(backendIp, BACKEND_PORT))), 25);
        try (Socket c = TlsClients.plain(Proxies.port(proxy, 25))) {
            TlsClients.writeLine(c, "are you there");
            assertThat(TlsClients.readLine(c.getInputStream())).isEqualTo("are you there");
            // The backend host vanishes: no FIN, no RST, no ICMP; packets to it are dropped.
            assertThat(run("ip", "netns", "exec", ns, "ip", "addr", "flush", "dev", veth + "b")).isZero();
            c.setSoTimeout(30_000);
            long start = System.nanoTime();
            assertThatThrownBy(() -> c.getInputStream().read()).isInstanceOf(IOException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
        }
        ConnectionInfo closed = events.awaitClosed(1).get(0);
        assertThat(closed.closeReason()).contains(CloseReason.BACKEND_UNREACHABLE);
        Proxies.awaitIdle(proxy);
    }
}
