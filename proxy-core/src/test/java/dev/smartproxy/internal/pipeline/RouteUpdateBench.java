package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.event.RouteUpdate;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A benchmark, not a test: the cost of one live route update on a proxy with 1,000 routes and
 * 10,000 open connections, over the local transport (the whole accept path, no sockets). Times,
 * on the updating thread, the validation {@code SmartProxy.updateRoutes} runs
 * ({@code RouteRules.validate}) and the apply ({@link RouteUpdater}: snapshot swap, listeners,
 * the judgement of every open connection), for an update that changes 5 routes and for an
 * identical one, with the bytes the thread allocated
 * ({@code com.sun.management.ThreadMXBean#getThreadAllocatedBytes}). Run:
 * <pre>
 * mvn -o -q -pl proxy-core test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java -cp proxy-core/target/test-classes:proxy-core/target/classes:$(cat /tmp/cp.txt) \
 *     dev.smartproxy.internal.pipeline.RouteUpdateBench [routes] [connections]
 * </pre>
 */
public final class RouteUpdateBench {
    private RouteUpdateBench() {
    }

    public static void main(String[] args) throws Exception {
        int routes = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int connections = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        String id = "bench";
        Transport transport = Transport.local();
        EventLoopGroup peers = transport.newGroup(2, "bench-peers");
        List<Channel> held = new ArrayList<>();
        // Backends that accept and hold every connection, reading nothing back.
        for (String host : List.of("x", "y")) {
            held.add(new ServerBootstrap().group(peers).channel(transport.serverChannelClass())
                    .childHandler(new Holder()).bind(new LocalAddress(id + "-" + host + ":1"))
                    .syncUninterruptibly().channel());
        }
        List<Route> list = new ArrayList<>();
        Map<Integer, InetSocketAddress> binds = new LinkedHashMap<>();
        for (int i = 1; i <= routes; i++) {
            list.add(route(i, id + "-x"));
            binds.put(i, InetSocketAddress.createUnresolved(id + "-proxy", i));
        }
        ConnectionPolicy policy = ConnectionPolicy.builder().build();
        ConnectionRegistry registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        ProxyContext px = new ProxyContext(RouteTable.of(list), policy, registry, transport);
        ProxyServer server = ProxyServer.start(px, 2, binds);
        RouteUpdater updater = new RouteUpdater(px, server, binds);

        long t0 = System.nanoTime();
        List<ChannelFuture> pending = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            ChannelFuture f = new Bootstrap().group(peers).channel(transport.socketChannelClass())
                    .handler(new ChannelInboundHandlerAdapter())
                    .connect(new LocalAddress(id + "-proxy:" + (1 + c % routes)));
            pending.add(f);
            if (pending.size() == 500) {
                awaitAll(pending, held);
            }
        }
        awaitAll(pending, held);
        for (Channel ch : held.subList(2, held.size())) {
            ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        }
        dev.smartproxy.testing.Await.until("all " + connections + " connections routed", Duration.ofSeconds(120),
                () -> routedCount(registry) >= connections);
        System.out.printf("%d routes, %d connections open and routed in %d ms%n", routes, registry.openCount(),
                (System.nanoTime() - t0) / 1_000_000);

        Method validate = Class.forName("dev.smartproxy.RouteRules")
                .getDeclaredMethod("validate", List.class, boolean.class, ConnectionPolicy.class);
        validate.setAccessible(true);
        // com.sun.management.ThreadMXBean, reached reflectively: the test sources compile as a module without jdk.management.
        Object threads = ManagementFactory.getThreadMXBean();
        Method allocated = Class.forName("com.sun.management.ThreadMXBean").getMethod("getThreadAllocatedBytes",
                long.class);
        long me = Thread.currentThread().getId();

        for (int round = 0; round < 10; round++) { // the first rounds warm the code up
            // 5 routes changed (another backend), every other route new but equal, as a reloaded config makes them.
            List<Route> changed = new ArrayList<>();
            for (int i = 1; i <= routes; i++) {
                changed.add(route(i, i % (routes / 5) == 0 && round % 2 == 0 ? id + "-y" : id + "-x"));
            }
            long a0 = allocated(allocated, threads, me);
            long w0 = System.nanoTime();
            RouteTable table = (RouteTable) validate.invoke(null, changed, false, policy);
            long w1 = System.nanoTime();
            long a1 = allocated(allocated, threads, me);
            RouteUpdate u = updater.apply(table, binds);
            long w2 = System.nanoTime();
            long a2 = allocated(allocated, threads, me);

            List<Route> same = new ArrayList<>();
            for (Route r : changed) {
                same.add(route(Integer.parseInt(r.name().substring(2)),
                        ((dev.smartproxy.route.ForwardAction) r.action()).targets().get(0).host()));
            }
            long b0 = allocated(allocated, threads, me);
            long v0 = System.nanoTime();
            RouteTable sameTable = (RouteTable) validate.invoke(null, same, false, policy);
            long v1 = System.nanoTime();
            long b1 = allocated(allocated, threads, me);
            RouteUpdate n = updater.apply(sameTable, binds);
            long v2 = System.nanoTime();
            long b2 = allocated(allocated, threads, me);
            if (!n.noChange() || u.changed().isEmpty()) {
                throw new IllegalStateException("unexpected: " + u.summary() + " / " + n.summary());
            }
            System.out.printf("round %d: change of %d routes (%d connections judged, %d on changed routes kept): "
                            + "validate %.2f ms / %d KiB, apply %.2f ms / %d KiB%n", round, u.changed().size(),
                    registry.openCount(), u.connectionsKept(), (w1 - w0) / 1e6, (a1 - a0) / 1024, (w2 - w1) / 1e6,
                    (a2 - a1) / 1024);
            System.out.printf("round %d: identical update: validate %.2f ms / %d KiB, apply %.3f ms / %d KiB%n", round,
                    (v1 - v0) / 1e6, (b1 - b0) / 1024, (v2 - v1) / 1e6, (b2 - b1) / 1024);
        }
        held.forEach(Channel::close);
        server.shutdown(Duration.ZERO);
        peers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Holds each backend connection open; reads nothing back. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class Holder extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
        }
    }

    private static long allocated(Method m, Object threads, long thread) throws Exception {
        return (Long) m.invoke(threads, thread);
    }

    private static Route route(int i, String backend) {
        return Route.named("r-" + i).match(m -> m.ports(i)).forward(f -> f.target(backend, 1)).build();
    }

    private static void awaitAll(List<ChannelFuture> pending, List<Channel> held) {
        for (ChannelFuture f : pending) {
            held.add(f.syncUninterruptibly().channel());
        }
        pending.clear();
    }

    private static long routedCount(ConnectionRegistry registry) {
        long[] n = new long[1];
        registry.forEachOpen(c -> {
            if (c.kind() != null) {
                n[0]++;
            }
        });
        return n[0];
    }
}
