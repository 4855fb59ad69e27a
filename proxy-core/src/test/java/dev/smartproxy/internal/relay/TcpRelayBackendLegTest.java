package dev.smartproxy.internal.relay;

import dev.smartproxy.internal.connection.BufferBudget;
import dev.smartproxy.config.ConnectionPolicy;
import dev.smartproxy.event.CloseReason;
import dev.smartproxy.internal.connection.ConnectionRegistry;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.connection.Ticker;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The relay on the backend leg, on {@link EmbeddedChannel}s: a reset that reaches the proxy through
 * a failed write (the kernel reports it to that write only; later reads see an end of stream)
 * is a reset, whichever promise the write carried; and the one handler instance on both legs tells
 * them apart.
 */
class TcpRelayBackendLegTest {
    private ConnectionRegistry registry;
    private ManagedConnection conn;
    private EmbeddedChannel client;
    private EmbeddedChannel backend;

    @BeforeEach
    void setUp() {
        registry = new ConnectionRegistry(List.of(), Clock.systemUTC(), Ticker.SYSTEM);
        ConnectionPolicy policy = ConnectionPolicy.builder().build();
        conn = registry.register(25, new InetSocketAddress("127.0.0.1", 40000));
        TcpRelay relay = new TcpRelay(conn, new BufferBudget(policy.bufferBudget()), policy.maxPendingDataSize(), null);
        client = new EmbeddedChannel();
        registry.watchLeg(conn, client); // as the accept stage does, before the router installs the relay
        client.pipeline().addLast(relay);
        // As Netty does when the socket refuses a write with an IOException: the write's promise
        // fails with it, and the channel closes (auto-close).
        backend = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ReferenceCountUtil.release(msg);
                promise.tryFailure(new IOException("writevAddresses(..) failed: Connection reset by peer"));
                ctx.close();
            }
        }, relay); // the same instance: the relay is one handler on both legs
        registry.watchLeg(conn, backend);
    }

    @AfterEach
    void tearDown() {
        client.finishAndReleaseAll();
        backend.finishAndReleaseAll();
    }

    @Test
    void aWriteThatMeetsAResetIsABackendResetEvenWithAPromiseNobodyWatches() {
        // The bytes held during the connect are written with a promise of their own.
        ChannelFuture write = backend.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        backend.runPendingTasks();
        client.runPendingTasks();
        assertThat(write.isSuccess()).isFalse();
        assertThat(backend.isOpen()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_RESET);
        assertThat(client.isOpen()).as("the client leg is closed (with a reset, as the reason says)").isFalse();
    }

    @Test
    void aWriteWithTheVoidPromiseReportsTheResetToo() {
        backend.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}), backend.voidPromise());
        backend.runPendingTasks();
        client.runPendingTasks();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.BACKEND_RESET);
        assertThat(client.isOpen()).isFalse();
    }

    @Test
    void aWriteAfterTheLegClosedForAnotherReasonChangesNothing() {
        conn.closeReason(CloseReason.CLIENT_CLOSED);
        backend.close();
        ChannelFuture write = backend.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1}));
        backend.runPendingTasks();
        assertThat(write.isSuccess()).isFalse();
        assertThat(conn.closeReason()).isEqualTo(CloseReason.CLIENT_CLOSED);
    }

    @Test
    void theOneInstanceTellsTheLegsApart() {
        backend.writeInbound(Unpooled.wrappedBuffer(new byte[] {1, 2, 3}));
        ByteBuf relayed = client.readOutbound();
        assertThat(relayed.readableBytes()).as("a backend read goes to the client leg").isEqualTo(3);
        relayed.release();
        assertThat(conn.bytesFromBackend()).isEqualTo(3);
        assertThat(conn.bytesFromClient()).isZero();

        backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(conn.isBackendInputClosed()).isTrue();
        assertThat(conn.isClientInputClosed()).isFalse();
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(conn.isClientInputClosed()).isTrue();
        assertThat(conn.orderlyCloseReason()).as("the backend's FIN came first").isEqualTo(CloseReason.BACKEND_CLOSED);
    }
}
