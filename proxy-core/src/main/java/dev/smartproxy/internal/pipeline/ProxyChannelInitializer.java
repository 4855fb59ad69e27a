package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.ByteCounter;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.RouteTable;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sets up each accepted connection on one route port: registers it, then either routes it at
 * once (when no SNI can change the outcome), installs the ClientHello peek, or closes it with
 * {@code NO_ROUTE}. One instance per listener; stateless apart from its configuration.
 */
public final class ProxyChannelInitializer extends ChannelInitializer<SocketChannel> {
    private static final Logger log = LoggerFactory.getLogger(ProxyChannelInitializer.class);

    private final ProxyContext px;
    private final int routePort;

    public ProxyChannelInitializer(ProxyContext px, int routePort) {
        this.px = px;
        this.routePort = routePort;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ManagedConnection conn = px.registry().register(routePort, ch.remoteAddress());
        log.debug("{}accepted from {} on port {}", conn.log(), ch.remoteAddress(), routePort);
        ClientHandler client = new ClientHandler(px, conn);
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.BYTES, ByteCounter.client(conn));
        p.addLast(PipelineNames.CLIENT, client);

        AcceptPlan.Decision decision = AcceptPlan.decide(px.routes(), routePort, ch.remoteAddress().getAddress());
        if (decision.needsClientHello()) {
            p.addBefore(PipelineNames.CLIENT, PipelineNames.CLIENT_HELLO, new ClientHelloClassifier(px, conn, client));
        } else if (decision.noRoute()) {
            log.debug("{}no route for port {} from {}", conn.log(), routePort, ch.remoteAddress());
            conn.closeReason(CloseReason.NO_ROUTE);
            ch.close();
        } else {
            client.routeTo(decision.route().orElseThrow(), null);
        }
    }
}
