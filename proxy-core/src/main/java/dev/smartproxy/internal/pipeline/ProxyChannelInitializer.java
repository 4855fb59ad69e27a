package dev.smartproxy.internal.pipeline;

import dev.smartproxy.internal.transport.ByteCounter;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.route.IpPattern;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.util.List;

/**
 * The accept stage, for each connection accepted on one route port: registers it (close
 * accounting waits on its close future from here), reads a trusted proxy's PROXY protocol
 * header where the listener accepts one ({@link ProxyProtocolStage}: admission and everything
 * after it then wait for the header, and see the client address it carries), runs
 * {@link Admission}, then classifies:
 * routes it at once through the {@link ConnectionRouter} when no byte can change the outcome,
 * installs the ClientHello peek ({@link ClientHelloClassifier}, which calls the router), or
 * closes it with {@code NO_ROUTE}. One instance per listener; stateless apart from its
 * configuration.
 */
public final class ProxyChannelInitializer extends ChannelInitializer<Channel> {
    private static final Logger log = LoggerFactory.getLogger(ProxyChannelInitializer.class);

    private final ProxyContext px;
    private final int routePort;

    /** The accept stage of {@code px}'s listener for {@code routePort}. */
    public ProxyChannelInitializer(ProxyContext px, int routePort) {
        this.px = px;
        this.routePort = routePort;
    }

    @Override
    protected void initChannel(Channel ch) {
        // The one read of the route table for this connection: classification, the route and the
        // target all come from this snapshot, whatever live updates happen meanwhile.
        RouteSnapshot routing = px.routing();
        ManagedConnection conn = px.registry().register(routePort, px.transport().clientAddress(ch));
        px.registry().watchLeg(conn, ch);
        log.debug("{}accepted from {} on port {}", conn.log(), ch.remoteAddress(), routePort);
        ChannelPipeline p = ch.pipeline();
        p.addLast(PipelineNames.BYTES, ByteCounter.client(conn));

        List<IpPattern> trusted = px.proxyProtocolTrust(routePort);
        if (trusted != null) {
            InetAddress peer = conn.peerAddress().getAddress();
            if (trusted.stream().anyMatch(t -> t.matches(peer))) {
                // The client is who the header says: admission and classification wait for it.
                p.addLast(PipelineNames.PROXY_PROTOCOL, new ProxyProtocolStage(conn,
                        px.policy().initialDataTimeout().toMillis(), () -> admitAndClassify(conn, ch, routing)));
                return;
            }
            p.addLast(PipelineNames.PROXY_UNTRUSTED, new ProxyProtocolStage.Untrusted(conn));
        }
        admitAndClassify(conn, ch, routing);
    }

    /** Admission, then classification, on the connection's client address (the header's, after one). */
    private void admitAndClassify(ManagedConnection conn, Channel ch, RouteSnapshot routing) {
        CloseReason refused = Admission.refusal(px, conn);
        if (refused != null) {
            log.debug("{}refused: {} (client {})", conn.log(), refused, conn.clientAddress());
            conn.closeReason(refused);
            ch.close();
            return;
        }

        ConnectionRouter router = new ConnectionRouter(px, conn, ch, routing);
        AcceptPlan.Decision decision = AcceptPlan.decide(routing.table(), routePort, conn.clientAddress().getAddress());
        if (decision.needsClientHello()) {
            ch.pipeline().addLast(PipelineNames.CLIENT_HELLO, new ClientHelloClassifier(px, conn, router, routing));
        } else if (decision.noRoute()) {
            log.debug("{}no route for port {} from {}", conn.log(), routePort, conn.clientAddress());
            conn.closeReason(CloseReason.NO_ROUTE);
            ch.close();
        } else {
            router.routeAtAccept(decision.route().orElseThrow());
        }
    }
}
