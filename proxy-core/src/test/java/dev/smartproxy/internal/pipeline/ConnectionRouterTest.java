package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.event.ConnectionInfo;
import dev.smartproxy.event.ConnectionKind;
import dev.smartproxy.event.ProxyEventListener;
import dev.smartproxy.internal.PipelineNames;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import dev.smartproxy.internal.transport.Transport;
import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The router on an {@link EmbeddedChannel}: the one registration of a routed connection, the
 * kind it is tagged with (by what the connection is), and the single branch it installs.
 */
class ConnectionRouterTest {
    private static final Route BLOCK = Route.named("deny").match(m -> m.ports(443)).block().build();
    private static final Route RAW = Route.named("raw").match(m -> m.ports(443))
            .forward(f -> f.target("nowhere", 1)).build();
    private static final Route PASSTHROUGH = Route.named("pt").match(m -> m.ports(443))
            .forward(f -> f.target("nowhere", 1).tls(TlsMode.PASSTHROUGH)).build();
    private static final Route HANDLER = Route.named("h").match(m -> m.ports(443))
            .handle(info -> new ChannelInboundHandlerAdapter()).build();

    private final List<ConnectionInfo> classified = new CopyOnWriteArrayList<>();
    private EmbeddedChannel ch;
    private ManagedConnection conn;
    private ConnectionRouter router;

    private void setUp(Route route) {
        ConnectionRegistry registry = new ConnectionRegistry(List.of(new ProxyEventListener() {
            @Override
            public void onClassified(ConnectionInfo c) {
                classified.add(c);
            }
        }), Clock.systemUTC(), Ticker.SYSTEM);
        // The local transport: a relay's connect fails on the embedded loop without touching a socket.
        ProxyContext px = new ProxyContext(RouteTable.of(List.of(route)), ConnectionPolicy.builder().build(), registry,
                Transport.local());
        conn = registry.register(443, new InetSocketAddress("127.0.0.1", 40000));
        ch = new EmbeddedChannel();
        registry.watchLeg(conn, ch);
        router = new ConnectionRouter(px, conn, ch);
    }

    @AfterEach
    void tearDown() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    @ParameterizedTest
    @CsvSource(value = {"a.test,true,PLAIN", "null,true,PLAIN", "null,false,PLAIN"}, nullValues = "null")
    void aBlockIsNeverPassthroughAndIsClosedWithBlocked(String sni, boolean clientHello, ConnectionKind kind) {
        setUp(BLOCK);
        router.routeTo(BLOCK, sni, clientHello);
        assertThat(classified).singleElement().satisfies(c -> assertThat(c.kind()).contains(kind));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BLOCKED);
        assertThat(ch.isOpen()).isFalse();
    }

    @ParameterizedTest
    @CsvSource(value = {"a.test,true,PLAIN", "null,true,PLAIN", "null,false,PLAIN"}, nullValues = "null")
    void aRawForwardIsPlainWhateverItCarries(String sni, boolean clientHello, ConnectionKind kind) {
        setUp(RAW);
        router.routeTo(RAW, sni, clientHello);
        assertThat(classified).singleElement().satisfies(c -> assertThat(c.kind()).contains(kind));
        assertThat(conn.legs()).as("the relay made the backend a leg of the connection").hasSize(2);
    }

    @Test
    void aPassthroughRouteTakenAtAcceptIsPassthroughAndItsConnectFailureIsTheRelays() {
        setUp(PASSTHROUGH);
        router.routeAtAccept(PASSTHROUGH);
        assertThat(classified).singleElement().satisfies(c -> assertThat(c.kind()).contains(ConnectionKind.PASSTHROUGH));
        assertThat(conn.legs()).hasSize(2);
        assertThat(conn.closeReason()).as("the connect cannot succeed on the embedded loop").isNotNull();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void aHandlerRouteGetsTheErrorHandlerThenTheUsersAndIsRegisteredOnce() {
        setUp(HANDLER);
        router.routeAtAccept(HANDLER);
        assertThat(classified).singleElement().satisfies(c -> {
            assertThat(c.kind()).contains(ConnectionKind.PLAIN);
            assertThat(c.routeName()).contains("h");
        });
        assertThat(ch.pipeline().names()).startsWith(PipelineNames.CLIENT_ERRORS, PipelineNames.USER);
        assertThat(ch.pipeline().get(PipelineNames.RELAY)).isNull();
    }

    @Test
    void aSocketErrorOnAHandlerRouteIsAClientReset() {
        setUp(HANDLER);
        router.routeAtAccept(HANDLER);
        ch.pipeline().fireExceptionCaught(new java.io.IOException("Connection reset by peer"));
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_RESET);
        assertThat(ch.isOpen()).isFalse();
    }
}
