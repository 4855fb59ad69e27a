package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ResponseScan}: which response heads the raw path takes, and what it reads from them; no channel. */
class ResponseScanTest {
    private final ResponseScan scan = new ResponseScan();

    /** Scans {@code text} (with a 3-byte prefix the scan must not look at, and the body after the head). */
    private boolean scan(String text) {
        ByteBuf b = Unpooled.copiedBuffer("xyz" + text, StandardCharsets.ISO_8859_1);
        try {
            b.skipBytes(3);
            return scan.scan(b, b.readerIndex(), b.writerIndex());
        } finally {
            b.release();
        }
    }

    /** The head with the lines the scan drops left out, as the raw path writes it. */
    private String kept(String text) {
        assertThat(scan(text)).as("taken").isTrue();
        StringBuilder out = new StringBuilder();
        int pos = 3;
        String all = "xyz" + text;
        for (int k = 0; k < scan.dropCount; k++) {
            out.append(all, pos, scan.drops[2 * k]);
            pos = scan.drops[2 * k + 1];
        }
        return out.append(all, pos, scan.headEnd).toString();
    }

    @Test
    void takesTheCommonHeadAndReadsItsFraming() {
        String head = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n";
        assertThat(scan(head + "ok\n")).isTrue();
        assertThat(scan.status).isEqualTo(200);
        assertThat(scan.contentLength).isEqualTo(3);
        assertThat(scan.chunked).isFalse();
        assertThat(scan.close).isFalse();
        assertThat(scan.dropCount).isZero();
        assertThat(scan.headEnd).isEqualTo(3 + head.length());
    }

    @Test
    void takesChunkedWithoutAReasonPhraseAndAnyCaseAndOptionalWhitespace() {
        assertThat(scan("HTTP/1.1 503\r\ntransfer-ENCODING:\t Chunked \r\nX-Empty:\r\n\r\n")).isTrue();
        assertThat(scan.status).isEqualTo(503);
        assertThat(scan.chunked).isTrue();
        assertThat(scan.contentLength).isEqualTo(-1);
    }

    @Test
    void dropsHopByHopLinesAndReadsConnectionClose() {
        String head = "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nA: 1\r\nKeep-Alive: timeout=5\r\n"
                + "Content-Length: 0\r\nProxy-Connection: x\r\nTE: trailers\r\n\r\n";
        assertThat(kept(head)).isEqualTo("HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n");
        assertThat(scan.close).isTrue();
        assertThat(kept("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nTrailer: X\r\nContent-Length: 0\r\n\r\n"))
                .isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assertThat(scan.close).isFalse();
        assertThat(kept("HTTP/1.1 200 OK\r\nConnection: ,keep-alive,\r\nContent-Length: 0\r\n\r\n"))
                .isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    @Test
    void takesObsTextInValuesAndTheLargestHead() {
        assertThat(scan("HTTP/1.1 200 \u00e9t\u00e9\r\nX: caf\u00e9\r\nContent-Length: 0\r\n\r\n")).isTrue();
        String prefix = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ";
        String fits = prefix + "a".repeat(ResponseScan.MAX_HEAD - prefix.length() - 4) + "\r\n\r\n";
        assertThat(fits).hasSize(ResponseScan.MAX_HEAD);
        assertThat(scan(fits)).isTrue();
        assertThat(scan(prefix + "a".repeat(ResponseScan.MAX_HEAD - prefix.length() - 3) + "\r\n\r\n")).isFalse();
    }

    /** Each of these goes through the decoder, which takes it or refuses it as it always did. */
    @ParameterizedTest
    @ValueSource(strings = {
            // not whole in the bytes given
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r",
            "HTTP/1.1 200 OK\r\nContent-Le",
            "HTTP/1.1 20",
            // the status line
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "HTTP/1.1 103 Early Hints\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 199 Odd\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 2000 Odd\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 2x0 Odd\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 O\u0000K\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
            // header lines
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n",
            "HTTP/1.1 200 OK\r\n X: a\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX(: a\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\u0001b\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\u007fb\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
            // framing
            "HTTP/1.1 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: 1\r\n\r\nclose-delimited",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            // what only the decoded path does
            "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection: close x\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nwww-authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTE: a\r\nTE: b\r\nTE: c\r\nTE: d\r\nTE: e\r\nContent-Length: 0\r\n\r\n",
    })
    void leavesEverythingElseToTheDecoder(String head) {
        assertThat(scan(head)).isFalse();
    }

    @Test
    void leavesAHeadOverTheLimitToTheDecoderWhateverFollows() {
        String big = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: " + "a".repeat(70_000) + "\r\n\r\n";
        assertThat(scan(big)).isFalse();
    }

    @Test
    void checksTrailerLinesAsHeaderLines() {
        ByteBuf b = Unpooled.copiedBuffer("X-T: 1\r\nX(: 1\r\nX-T: a\nb\r\n", StandardCharsets.ISO_8859_1);
        try {
            assertThat(ResponseScan.headerLine(b, 0, b.writerIndex())).isEqualTo(8);
            assertThat(ResponseScan.headerLine(b, 8, b.writerIndex())).isEqualTo(-1);
            assertThat(ResponseScan.headerLine(b, 16, b.writerIndex())).isEqualTo(-1);
            assertThat(ResponseScan.headerLine(b, 0, 7)).isEqualTo(-1);
        } finally {
            b.release();
        }
    }
}
