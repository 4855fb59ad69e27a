package dev.smartproxy.internal.connection;

import dev.smartproxy.event.CloseReason;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.util.stream.Stream;

import static dev.smartproxy.event.CloseReason.*;
import static org.assertj.core.api.Assertions.assertThat;

/** The one failure-to-reason table, row by row, on both legs. */
class CloseReasonsTest {
    static Stream<Arguments> table() {
        return Stream.of(
                row(new SslHandshakeTimeoutException("handshake timed out after 10000ms"), TLS_HANDSHAKE_TIMEOUT, CONNECT_TIMEOUT),
                row(new DecoderException(new SSLHandshakeException("PKIX path building failed")), TLS_HANDSHAKE_FAILED,
                        BACKEND_PROTOCOL_ERROR),
                row(new DecoderException(new javax.net.ssl.SSLException("bad record MAC")), TLS_HANDSHAKE_FAILED,
                        BACKEND_PROTOCOL_ERROR),
                row(new NotSslRecordException("not an SSL/TLS record"), TLS_HANDSHAKE_FAILED, BACKEND_PROTOCOL_ERROR),
                row(new DecoderException("bad chunk"), PROTOCOL_ERROR, BACKEND_PROTOCOL_ERROR),
                row(new TooLongFrameException("frame too long"), PROTOCOL_ERROR, BACKEND_PROTOCOL_ERROR),
                row(new CorruptedWebSocketFrameException(), PROTOCOL_ERROR, BACKEND_PROTOCOL_ERROR),
                row(new IOException("Connection timed out"), CLIENT_UNREACHABLE, BACKEND_UNREACHABLE),
                row(new IOException(new SocketException("Connection timed out")), CLIENT_UNREACHABLE, BACKEND_UNREACHABLE),
                row(new SocketException("Connection reset"), CLIENT_RESET, BACKEND_RESET),
                row(new IOException("Broken pipe"), CLIENT_RESET, BACKEND_RESET),
                row(new ClosedChannelException(), CLIENT_RESET, BACKEND_RESET),
                row(new IllegalStateException("a defect"), PROXY_ERROR, PROXY_ERROR),
                row(new NullPointerException(), PROXY_ERROR, PROXY_ERROR));
    }

    private static Arguments row(Throwable cause, CloseReason client, CloseReason backend) {
        return Arguments.of(cause, client, backend);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void everyFailureHasOneReasonPerLeg(Throwable cause, CloseReason client, CloseReason backend) {
        assertThat(CloseReasons.of(cause, CloseReasons.Leg.CLIENT)).isEqualTo(client);
        assertThat(CloseReasons.of(cause, CloseReasons.Leg.BACKEND)).isEqualTo(backend);
        assertThat(CloseReasons.expected(client)).isEqualTo(client != PROXY_ERROR);
    }

    static Stream<Arguments> connects() {
        return Stream.of(
                Arguments.of(new ConnectTimeoutException("connection timed out: /10.0.0.1:80"), CONNECT_TIMEOUT),
                Arguments.of(new ConnectException("Connection refused"), CONNECT_REFUSED),
                Arguments.of(new SocketException("Connection reset by peer"), BACKEND_RESET),
                Arguments.of(new DecoderException(new SSLHandshakeException("PKIX path building failed")), CONNECT_FAILED),
                Arguments.of(new SslHandshakeTimeoutException("handshake timed out"), CONNECT_TIMEOUT),
                Arguments.of(new java.net.UnknownHostException("no.such.host"), CONNECT_FAILED));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("connects")
    void everyConnectFailureHasOneReason(Throwable cause, CloseReason reason) {
        assertThat(CloseReasons.connectFailure(cause)).isEqualTo(reason);
    }
}
