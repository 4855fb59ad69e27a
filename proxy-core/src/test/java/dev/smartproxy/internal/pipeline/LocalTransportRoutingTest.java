package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Await;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.local.LocalAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tier 3: the route and branch stages of the whole accept path over Netty's local transport
 * (in-VM, no sockets): {@link ProxyServer} on {@link Transport#local()}, clients and backends on
 * local channels. Half-close and socket options do not exist here; the loopback tier covers them.
 */
class LocalTransportRoutingTest {
    private static final AtomicInteger IDS = new AtomicInteger();

    private final String id = "t" + IDS.incrementAndGet();
    private final List<ConnectionInfo> classified = new CopyOnWriteArrayList<>();
    private final List<ConnectionInfo> closed = new CopyOnWriteArrayList<>();
    private final Transport transport = Transport.local();
    private final EventLoopGroup testLoops = transport.newGroup(1, "test-peers");
    private final List<Channel> toClose = new ArrayList<>();
    private ConnectionRegistry registry;
    private ProxyServer server;

    @AfterEach
    void tearDown() {
        toClose.forEach(ch -> ch.close().syncUninterruptibly());
        if (server != null) {
            server.shutdown(Duration.ZERO);
        }
        testLoops.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Starts a proxy on the local transport with {@code routes}, listening for route port 25. */
    private SocketAddress proxy(Route... routes) {
        registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
            @Override
            public void onClassified(ConnectionInfo c) {
                classified.add(c);
            }

            @Override
            public void onClosed(ConnectionInfo c) {
                closed.add(c);
            }
        }), Clock.systemUTC(), Ticker.SYSTEM);
        ProxyContext px = new ProxyContext(RouteTable.of(List.of(routes)), ConnectionPolicy.builder().build(),
                registry, transport);
        server = ProxyServer.start(px, 1, Map.of(25, InetSocketAddress.createUnresolved(id + "-proxy", 25)));
        assertThat(server.boundAddresses()).as("no socket address on the local transport").isEmpty();
        return server.listenAddresses().get(25);
    }

    /** A backend at the local address {@code host:port} that answers each read with "echo:" and the bytes. */
    private List<String> echoBackend(String host, int port) {
        List<String> received = new CopyOnWriteArrayList<>();
        Channel ch = new ServerBootstrap().group(testLoops).channel(transport.serverChannelClass())
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf in = (ByteBuf) msg;
                        String text = in.toString(StandardCharsets.US_ASCII);
                        in.release();
                        received.add(text);
                        ctx.writeAndFlush(Unpooled.copiedBuffer("echo:" + text, StandardCharsets.US_ASCII));
                    }

                    @Override
                    public boolean isSharable() {
                        return true;
                    }
                })
                .bind(new LocalAddress(host + ":" + port)).syncUninterruptibly().channel();
        toClose.add(ch);
        return received;
    }

    /** A client connected to {@code address}; what it reads is appended to {@code received}. */
    private Channel client(SocketAddress address, StringBuffer received) {
        Channel ch = new Bootstrap().group(testLoops).channel(transport.socketChannelClass())
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel c) {
                        c.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ByteBuf in = (ByteBuf) msg;
                                received.append(in.toString(StandardCharsets.US_ASCII));
                                in.release();
                            }
                        });
                    }
                })
                .connect(address).syncUninterruptibly().channel();
        toClose.add(ch);
        return ch;
    }

    private static void send(Channel ch, String text) {
        ch.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII)).syncUninterruptibly();
    }

    private void awaitRegistryEmpty() {
        // The count drops before the listener hears of the close: wait for both.
        Await.until("the registry returns to zero and every close is reported",
                () -> registry.openCount() == 0 && closed.size() == registry.stats().accepted());
        assertThat(registry.stats().open()).isZero();
        assertThat(registry.stats().accepted()).isEqualTo(closed.size());
    }

    @Test
    void aPlainForwardRelaysBytesBothWaysAndTheRegistryReturnsToZero() {
        List<String> atBackend = echoBackend(id + "-echo", 7);
        SocketAddress proxy = proxy(Route.named("tcp").match(m -> m.ports(25))
                .forward(f -> f.target(id + "-echo", 7)).build());
        StringBuffer atClient = new StringBuffer();
        Channel c = client(proxy, atClient);
        send(c, "hello");
        Await.until("the answer", () -> atClient.toString().equals("echo:hello"));
        assertThat(String.join("", atBackend)).isEqualTo("hello");
        send(c, " again");
        Await.until("the second answer", () -> atClient.toString().equals("echo:helloecho: again"));

        assertThat(classified).singleElement().satisfies(info -> {
            assertThat(info.kind()).contains(ConnectionKind.PLAIN);
            assertThat(info.routeName()).contains("tcp");
        });
        assertThat(registry.snapshot()).singleElement().satisfies(info -> {
            assertThat(info.bytesFromClient()).isEqualTo("hello again".length());
            assertThat(info.bytesFromBackend()).isEqualTo("echo:helloecho: again".length());
        });
        c.close().syncUninterruptibly();
        awaitRegistryEmpty();
        assertThat(closed).singleElement()
                .satisfies(info -> assertThat(info.closeReason()).contains(CloseReason.CLIENT_CLOSED));
    }

    @Test
    void aBackendLegThatClosesClosesTheClientWithBackendClosed() {
        echoBackend(id + "-echo", 7);
        SocketAddress proxy = proxy(Route.named("tcp").match(m -> m.ports(25))
                .forward(f -> f.target(id + "-echo", 7)).build());
        StringBuffer atClient = new StringBuffer();
        Channel c = client(proxy, atClient);
        send(c, "x");
        Await.until("the answer", () -> atClient.length() > 0);
        registry.forEachOpen(conn -> conn.legs().get(1).close()); // the proxy's backend leg ends
        Await.until("the client closed", () -> !c.isOpen());
        awaitRegistryEmpty();
        assertThat(closed).singleElement()
                .satisfies(info -> assertThat(info.closeReason()).contains(CloseReason.BACKEND_CLOSED));
    }

    @Test
    void aConnectionNoRouteTakesIsClosedWithItsReason() {
        SocketAddress proxy = proxy(Route.named("only-10-8").match(m -> m.ports(25).clientIps("10.0.0.0/8"))
                .forward(f -> f.target(id + "-echo", 7)).build());
        Channel c = client(proxy, new StringBuffer());
        Await.until("the client closed", () -> !c.isOpen());
        awaitRegistryEmpty();
        assertThat(classified).isEmpty();
        assertThat(closed).singleElement().satisfies(info -> {
            assertThat(info.closeReason()).contains(CloseReason.NO_ROUTE);
            assertThat(info.kind()).isEmpty();
        });
    }

    @Test
    void aBlockRouteClosesWithBlockedAndForwardsNothing() {
        SocketAddress proxy = proxy(Route.named("deny").match(m -> m.ports(25)).block().build());
        Channel c = client(proxy, new StringBuffer());
        Await.until("the client closed", () -> !c.isOpen());
        awaitRegistryEmpty();
        assertThat(closed).singleElement().satisfies(info -> {
            assertThat(info.closeReason()).contains(CloseReason.BLOCKED);
            assertThat(info.routeName()).contains("deny");
            assertThat(info.kind()).contains(ConnectionKind.PLAIN);
        });
    }

    @Test
    void aHandlerRouteGetsTheAlreadyReadBytesFirstThenTheRest() {
        List<String> seen = new CopyOnWriteArrayList<>();
        List<String> pipelineAtFirstRead = new CopyOnWriteArrayList<>();
        // The domain route makes the port peek at the first bytes; they are not TLS, so the
        // route without domains (the handler) takes the connection, bytes already read first.
        SocketAddress proxy = proxy(
                Route.named("tls").priority(10).match(m -> m.ports(25).domains("a.test"))
                        .forward(f -> f.target(id + "-echo", 7).tls(TlsMode.PASSTHROUGH)).build(),
                Route.named("shout").match(m -> m.ports(25)).handle(info -> new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf in = (ByteBuf) msg;
                        String text = in.toString(StandardCharsets.US_ASCII);
                        in.release();
                        if (seen.isEmpty()) {
                            pipelineAtFirstRead.addAll(ctx.pipeline().names());
                        }
                        seen.add(text);
                        ctx.writeAndFlush(Unpooled.copiedBuffer(text.toUpperCase(), StandardCharsets.US_ASCII));
                    }
                }).build());
        StringBuffer atClient = new StringBuffer();
        Channel c = client(proxy, atClient);
        send(c, "hello!");
        Await.until("the first answer", () -> atClient.toString().equals("HELLO!"));
        send(c, " world");
        Await.until("the second answer", () -> atClient.toString().equals("HELLO! WORLD"));
        assertThat(seen).containsExactly("hello!", " world");
        assertThat(pipelineAtFirstRead).as("the peek and its companion are gone; nothing forwards for the handler")
                .startsWith(PipelineNames.BYTES, PipelineNames.CLIENT_ERRORS, PipelineNames.USER)
                .doesNotContain(PipelineNames.CLIENT_HELLO, PipelineNames.CLIENT_UNROUTED, PipelineNames.RELAY);
        assertThat(classified).singleElement().satisfies(info -> assertThat(info.routeName()).contains("shout"));
        c.close().syncUninterruptibly();
        awaitRegistryEmpty();
    }

    @Test
    void theRelayIsTheOnlyBranchHandlerOfAForward() {
        echoBackend(id + "-echo", 7);
        SocketAddress proxy = proxy(Route.named("tcp").match(m -> m.ports(25))
                .forward(f -> f.target(id + "-echo", 7)).build());
        StringBuffer atClient = new StringBuffer();
        Channel c = client(proxy, atClient);
        send(c, "x");
        Await.until("the answer", () -> atClient.length() > 0);
        List<List<String>> names = new ArrayList<>();
        registry.forEachOpen(conn -> conn.legs().forEach(leg -> names.add(leg.pipeline().names())));
        assertThat(names).hasSize(2);
        // the relay counts the bytes itself once the first read passed the accept stage's counter
        assertThat(names.get(0)).startsWith(PipelineNames.RELAY).hasSize(2); // + Netty's tail
        assertThat(names.get(1)).startsWith(PipelineNames.BACKEND).hasSize(2);
        c.close().syncUninterruptibly();
        awaitRegistryEmpty();
    }
}
