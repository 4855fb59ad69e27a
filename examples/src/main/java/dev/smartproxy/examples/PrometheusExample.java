package dev.smartproxy.examples;

import com.sun.net.httpserver.HttpServer;
import dev.smartproxy.SmartProxy;
import dev.smartproxy.micrometer.SmartProxyMetrics;
import dev.smartproxy.route.Route;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The proxy's meters scraped as Prometheus text: a proxy with a raw TCP route ({@code echo}, to an
 * echo server) and a plain HTTP route ({@code web}, to a server that answers {@code /status/NNN}
 * with NNN), {@link SmartProxyMetrics} bound to a {@link PrometheusMeterRegistry}, and
 * {@code GET /metrics} served by the JDK's {@link HttpServer}. Everything binds to loopback,
 * on ephemeral ports unless given:
 *
 * <pre>
 * java -jar smartproxy-examples.jar metrics [--port 9464]
 * curl -s http://127.0.0.1:9464/metrics | grep ^smartproxy_
 * </pre>
 *
 * <p>It sends a few requests through both routes at start, so the first scrape has something to
 * show, and runs until the process is stopped.
 */
public final class PrometheusExample implements AutoCloseable {
    private final ServerSocket echo;
    private final ExecutorService echoThreads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "echo-backend");
        t.setDaemon(true);
        return t;
    });
    private final HttpServer web;
    private final SmartProxy proxy;
    private final PrometheusMeterRegistry registry;
    private final SmartProxyMetrics metrics;
    private final HttpServer scrape;

    private PrometheusExample(int metricsPort) throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        echo = new ServerSocket(0, 50, loopback);
        echoThreads.execute(this::acceptEchoClients);
        web = HttpServer.create(new InetSocketAddress(loopback, 0), 50);
        web.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            int status = path.startsWith("/status/") ? Integer.parseInt(path.substring("/status/".length())) : 200;
            byte[] body = ("status " + status + "\n").getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        web.start();
        int echoPort = echo.getLocalPort();
        int webPort = web.getAddress().getPort();
        proxy = SmartProxy.builder()
                .route(Route.named("echo").match(m -> m.ports(7000)).forward(f -> f.target("127.0.0.1", echoPort)))
                .route(Route.named("web").match(m -> m.ports(8080)).forward(f -> f.target("127.0.0.1", webPort).http()))
                .listen(7000, new InetSocketAddress(loopback, 0))
                .listen(8080, new InetSocketAddress(loopback, 0))
                .build().start();

        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics = new SmartProxyMetrics(proxy, Tags.of("application", "smartproxy-example"));
        metrics.bindTo(registry);

        scrape = HttpServer.create(new InetSocketAddress(loopback, metricsPort), 16);
        scrape.createContext("/metrics", exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        scrape.start();
    }

    /** Starts the backends, the proxy and the metrics endpoint; {@code metricsPort} 0 picks a free port. */
    public static PrometheusExample start(int metricsPort) throws IOException {
        return new PrometheusExample(metricsPort);
    }

    /** The proxy. */
    public SmartProxy proxy() {
        return proxy;
    }

    /** The port the {@code echo} route (raw TCP) is served on. */
    public int echoPort() {
        return proxy.boundAddress(7000).getPort();
    }

    /** The port the {@code web} route (plain HTTP) is served on. */
    public int webPort() {
        return proxy.boundAddress(8080).getPort();
    }

    /** {@code http://127.0.0.1:PORT/metrics}. */
    public URI metricsUri() {
        return URI.create("http://127.0.0.1:" + scrape.getAddress().getPort() + "/metrics");
    }

    /** The registry the endpoint scrapes. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Sends {@code line} through the echo route and returns the answer. */
    public String echo(String line) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), echoPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        }
    }

    /** Sends {@code GET path} through the web route on a connection of its own; returns the status code. */
    public int get(String path) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), webPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return Integer.parseInt(response.substring("HTTP/1.1 ".length(), "HTTP/1.1 ".length() + 3));
        }
    }

    private void acceptEchoClients() {
        while (!echo.isClosed()) {
            try {
                Socket s = echo.accept();
                echoThreads.execute(() -> {
                    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                        in.transferTo(out);
                    } catch (IOException e) {
                        // the client went away: nothing to do in an example backend
                    }
                });
            } catch (IOException e) {
                if (!echo.isClosed()) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        scrape.stop(0);
        metrics.close();
        registry.close();
        proxy.close();
        web.stop(0);
        echo.close();
        echoThreads.shutdownNow();
    }

    public static void main(String[] args) throws Exception {
        int port = 0;
        if (args.length == 2 && args[0].equals("--port")) {
            port = Integer.parseInt(args[1]);
        } else if (args.length != 0) {
            System.err.println("usage: metrics [--port PORT]   (the /metrics port; default: a free one)");
            System.exit(2);
            return;
        }
        PrometheusExample example = start(port);
        example.echo("hello");
        for (String path : new String[] {"/", "/status/201", "/status/404", "/status/503"}) {
            example.get(path);
        }
        System.out.println("echo route (raw TCP): 127.0.0.1:" + example.echoPort());
        System.out.println("web route (HTTP):     http://127.0.0.1:" + example.webPort() + "/status/404");
        System.out.println("Prometheus metrics:   " + example.metricsUri());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                example.close();
            } catch (IOException e) {
                System.err.println("closing: " + e);
            }
            stopped.countDown();
        }, "smartproxy-shutdown"));
        stopped.await();
    }
}
