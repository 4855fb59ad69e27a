package dev.smartproxy.examples;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.IoTransport;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.CountDownLatch;

/**
 * A standalone proxy started from the command line, used to measure SmartProxy next to HAProxy
 * and nginx:
 *
 * <pre>
 * passthrough --listen 127.0.0.1:8443 --backend 127.0.0.1:9443 [--sni 'a.test,*.b.test'] [--transport epoll|nio|auto]
 * terminate   --listen 127.0.0.1:8443 --backend 127.0.0.1:8080 --cert chain.pem --key key.pem [--transport ...]
 *   both: [--max-connections-per-ip N] [--connection-rate-per-minute N]   (defaults 100 and 300; 0: no limit)
 * </pre>
 *
 * <p>A load generator opens every connection from one address: give it room with the two limits
 * (the shared bench runs it with {@code --max-connections-per-ip 0 --connection-rate-per-minute 0},
 * or with large values to measure the limiter's own cost).
 *
 * <p>{@code passthrough}: connections whose SNI matches (default {@code *}: any name) are relayed
 * unopened to the backend. {@code terminate}: TLS ends here with the given certificate (served
 * for every name, SNI or not) and HTTP/1.1 is proxied to the plain-HTTP backend. It runs until
 * the process is stopped (SIGTERM or Ctrl-C), then drains for 30 s.
 */
public final class PassthroughMain {
    private PassthroughMain() {
    }

    /** The parsed command line. */
    record Options(InetSocketAddress listen, String backendHost, int backendPort, String[] sni, IoTransport transport,
                   java.nio.file.Path cert, java.nio.file.Path key, int maxConnectionsPerIp, int connectionRatePerMinute) {
        Options(InetSocketAddress listen, String backendHost, int backendPort, String[] sni, IoTransport transport,
                java.nio.file.Path cert, java.nio.file.Path key) {
            this(listen, backendHost, backendPort, sni, transport, cert, key, 100, 300);
        }

        boolean terminate() {
            return cert != null;
        }
    }

    public static void main(String[] args) throws Exception {
        run(args, false);
    }

    /** Runs the proxy the arguments describe; {@code terminate} requires --cert and --key. */
    static void run(String[] args, boolean terminate) throws Exception {
        Options o;
        try {
            o = parse(args);
            if (terminate != o.terminate()) {
                throw new IllegalArgumentException(terminate ? "--cert and --key are required for terminate"
                        : "--cert/--key are for the terminate command");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("passthrough: " + e.getMessage());
            System.err.println("usage: passthrough --listen HOST:PORT --backend HOST:PORT [--sni PATTERNS] "
                    + "[--transport auto|epoll|nio]\n       terminate --listen HOST:PORT --backend HOST:PORT "
                    + "--cert CHAIN.pem --key KEY.pem [--transport auto|epoll|nio]\n       both: "
                    + "[--max-connections-per-ip N] [--connection-rate-per-minute N] (defaults 100, 300; 0: no limit)");
            System.exit(2);
            return;
        }
        if (!java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
                .contains("-XX:+ExitOnOutOfMemoryError")) {
            System.err.println("warning: running without -XX:+ExitOnOutOfMemoryError; a process that runs out of "
                    + "memory will not exit to be replaced (examples/bin/smartproxy sets it)");
        }
        SmartProxy proxy;
        try {
            proxy = build(o).start();
        } catch (IllegalArgumentException e) { // a setting out of range: its name and range, no stack trace
            System.err.println("passthrough: " + e.getMessage());
            System.exit(2);
            return;
        }
        int routePort = o.listen().getPort() == 0 ? 443 : o.listen().getPort();
        System.out.println((o.terminate() ? "terminating" : "passthrough") + " proxy listening on "
                + proxy.boundAddress(routePort) + (o.terminate() ? "" : ", SNI " + String.join(",", o.sni()))
                + " -> " + o.backendHost() + ":" + o.backendPort());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            proxy.close();
            stopped.countDown();
        }, "smartproxy-shutdown"));
        stopped.await();
    }

    /** Builds (does not start) the proxy the options describe. */
    static SmartProxy build(Options o) {
        int port = o.listen().getPort();
        SmartProxy.Builder b = SmartProxy.builder().transport(o.transport())
                .maxConnectionsPerIp(o.maxConnectionsPerIp())
                .connectionRateLimitPerMinute(o.connectionRatePerMinute());
        if (o.terminate()) {
            b.defaultCertificate(CertificateSource.pemFiles(o.cert(), o.key()))
                    .route(Route.named("terminate").match(m -> m.ports(port == 0 ? 443 : port))
                            .forward(f -> f.target(o.backendHost(), o.backendPort()).tls(TlsMode.TERMINATE)));
        } else {
            b.route(Route.named("passthrough")
                    .match(m -> m.ports(port == 0 ? 443 : port).domains(o.sni()))
                    .forward(f -> f.target(o.backendHost(), o.backendPort()).tls(TlsMode.PASSTHROUGH)));
        }
        return b.listen(port == 0 ? 443 : port, o.listen()).build();
    }

    /** Parses the command line; throws with a message naming the bad argument. */
    static Options parse(String[] args) {
        InetSocketAddress listen = null;
        String[] backend = null;
        String sni = "*";
        IoTransport transport = IoTransport.AUTO;
        java.nio.file.Path cert = null;
        java.nio.file.Path key = null;
        int perIp = 100;
        int rate = 300;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(flag + ": missing value");
            }
            String value = args[++i];
            switch (flag) {
                case "--listen" -> {
                    String[] hp = hostPort("--listen", value);
                    try {
                        listen = new InetSocketAddress(InetAddress.getByName(hp[0]), Integer.parseInt(hp[1]));
                    } catch (UnknownHostException e) {
                        throw new IllegalArgumentException("--listen: unknown host '" + hp[0] + "'");
                    }
                }
                case "--backend" -> backend = hostPort("--backend", value);
                case "--sni" -> sni = value;
                case "--cert" -> cert = java.nio.file.Path.of(value);
                case "--key" -> key = java.nio.file.Path.of(value);
                case "--max-connections-per-ip" -> perIp = count("--max-connections-per-ip", value);
                case "--connection-rate-per-minute" -> rate = count("--connection-rate-per-minute", value);
                case "--transport" -> {
                    try {
                        transport = IoTransport.valueOf(value.toUpperCase(java.util.Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("--transport: '" + value + "' (expected: auto, epoll or nio)");
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
            }
        }
        if (listen == null || backend == null) {
            throw new IllegalArgumentException("--listen and --backend are required");
        }
        int backendPort = Integer.parseInt(backend[1]);
        if (backendPort < 1 || backendPort > 65535) {
            throw new IllegalArgumentException("--backend: port " + backendPort + " (expected: 1..65535)");
        }
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("--cert and --key go together");
        }
        return new Options(listen, backend[0], backendPort, sni.split(","), transport, cert, key, perIp, rate);
    }

    private static int count(String flag, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(flag + ": '" + value + "' (expected: 0 for no limit, or a positive count)");
    }

    static String[] hostPort(String flag, String value) {
        int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1) {
            throw new IllegalArgumentException(flag + ": '" + value + "' (expected: HOST:PORT)");
        }
        String port = value.substring(colon + 1);
        if (!port.chars().allMatch(Character::isDigit) || port.length() > 5) {
            throw new IllegalArgumentException(flag + ": '" + value + "' (expected: HOST:PORT)");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new String[] {host, port};
    }
}
