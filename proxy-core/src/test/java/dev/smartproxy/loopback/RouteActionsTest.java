package dev.smartproxy.loopback;

import dev.smartproxy.SmartProxy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.TlsMode;
import dev.smartproxy.testing.Closer;
import dev.smartproxy.testing.Proxies;
import dev.smartproxy.testing.TestServer;
import dev.smartproxy.testing.TlsClients;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Block and user-handler actions on real sockets. */
class RouteActionsTest {
    private final Proxies.Recorder events = new Proxies.Recorder();
    private final Closer closer = new Closer();
    private SmartProxy proxy;
    private TestServer backend;

    @AfterEach
    void tearDown() throws Exception {
        closer.close();
    }

    @Test
    void blockRouteClosesByNameAndForwardsNothing() throws Exception {
        backend = closer.keep(TestServer.tls("a.test", s -> s.getInputStream().transferTo(s.getOutputStream())));
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("deny-b").priority(10).match(m -> m.ports(443).domains("b.test")).block())
                .route(Route.named("all").match(m -> m.ports(443).domains("*"))
                        .forward(f -> f.target("127.0.0.1", backend.port()).tls(TlsMode.PASSTHROUGH))), 443));
        int port = Proxies.port(proxy, 443);
        assertThatThrownBy(() -> TlsClients.connect(port, "b.test")).isInstanceOf(IOException.class);
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.closeReason()).contains(CloseReason.BLOCKED);
        assertThat(c.routeName()).contains("deny-b");
        assertThat(backend.connections()).isZero();
        try (var ok = TlsClients.connect(port, "a.test")) {
            TlsClients.writeLine(ok, "still serving");
            assertThat(TlsClients.readLine(ok.getInputStream())).isEqualTo("still serving");
        }
    }

    @Test
    void handlerRouteGetsTheAlreadyReadBytesFirstThenTheRest() throws Exception {
        StringBuilder seen = new StringBuilder();
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("shout").match(m -> m.ports(7)).handle(info -> new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf in = (ByteBuf) msg;
                        String text = in.toString(StandardCharsets.US_ASCII);
                        in.release();
                        seen.append(text);
                        ctx.writeAndFlush(Unpooled.copiedBuffer(text.toUpperCase(), StandardCharsets.US_ASCII));
                    }

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof ChannelInputShutdownEvent) {
                            ctx.close();
                        }
                    }
                })), 7));
        try (Socket s = TlsClients.plain(Proxies.port(proxy, 7))) {
            TlsClients.writeLine(s, "hello handler");
            assertThat(TlsClients.readLine(s.getInputStream())).isEqualTo("HELLO HANDLER");
            s.shutdownOutput();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
        ConnectionInfo c = events.awaitClosed(1).get(0);
        assertThat(c.routeName()).contains("shout");
        assertThat(c.bytesFromClient()).isEqualTo("hello handler\n".length());
        assertThat(seen.toString()).isEqualTo("hello handler\n");
        Proxies.awaitIdle(proxy);
    }

    @Test
    void handlerRouteBehindAClientHelloPeekSeesTheClientHello() throws Exception {
        java.util.concurrent.CompletableFuture<Integer> firstByte = new java.util.concurrent.CompletableFuture<>();
        proxy = closer.keep(Proxies.start(SmartProxy.builder().listener(events)
                .route(Route.named("inspect").match(m -> m.ports(443).domains("a.test"))
                        .handle(info -> new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ByteBuf in = (ByteBuf) msg;
                                firstByte.complete((int) in.getUnsignedByte(in.readerIndex()));
                                in.release();
                                ctx.close();
                            }
                        })), 443));
        assertThatThrownBy(() -> TlsClients.connect(Proxies.port(proxy, 443), "a.test")).isInstanceOf(IOException.class);
        assertThat(firstByte.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(22); // a TLS handshake record
        assertThat(events.awaitClosed(1).get(0).sni()).contains("a.test");
    }
}
