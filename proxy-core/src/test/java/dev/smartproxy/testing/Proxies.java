package dev.smartproxy.testing;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ProxyEventListener;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Starts proxies whose route ports are bound to ephemeral loopback ports, as a user's test would. */
public final class Proxies {
    private Proxies() {
    }

    /** Binds each of {@code routePorts} to {@code 127.0.0.1:0}, with a short drain on close, and starts. */
    public static SmartProxy start(SmartProxy.Builder builder, int... routePorts) {
        for (int port : routePorts) {
            builder.listen(port, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        }
        return builder.gracefulShutdownTimeout(Duration.ofMillis(200)).build().start();
    }

    /** The ephemeral port serving {@code routePort}. */
    public static int port(SmartProxy proxy, int routePort) {
        return proxy.boundAddress(routePort).getPort();
    }

    /** Waits until the proxy has no open connection. */
    public static void awaitIdle(SmartProxy proxy) {
        Await.until("no open connections (open: " + proxy.connections() + ")", () -> proxy.stats().open() == 0);
    }

    /** A listener that keeps every closed connection's final snapshot. */
    public static final class Recorder implements ProxyEventListener {
        private final List<ConnectionInfo> routed = new CopyOnWriteArrayList<>();
        private final List<ConnectionInfo> closed = new CopyOnWriteArrayList<>();

        @Override
        public void onClassified(ConnectionInfo c) {
            routed.add(c);
        }

        @Override
        public void onClosed(ConnectionInfo c) {
            closed.add(c);
        }

        public List<ConnectionInfo> routed() {
            return routed;
        }

        public List<ConnectionInfo> closed() {
            return closed;
        }

        /** Waits for {@code n} closes and returns them. */
        public List<ConnectionInfo> awaitClosed(int n) {
            Await.until(n + " closed connections (have " + closed.size() + ": " + closed + ")", () -> closed.size() >= n);
            return List.copyOf(closed);
        }
    }
}
