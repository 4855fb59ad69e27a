package dev.smartproxy.internal.http;

import io.netty.buffer.ByteBuf;

/**
 * Reads a backend's response head in place, without decoding it, and accepts it only in the
 * common case that can be relayed as bytes ({@link RawRelay}): {@code HTTP/1.1}, a final status
 * 200-599 other than 204, 205 and 304, the whole head (at most {@value #MAX_HEAD} bytes) in the
 * bytes given, every line ending in CRLF, header names that are tokens followed at once by the
 * colon, values of visible ASCII, spaces, tabs and obs-text only, no obs-fold, and exactly one
 * framing: a single {@code Content-Length} of digits, or a single {@code Transfer-Encoding:
 * chunked}. {@code Connection} may list only {@code close} and {@code keep-alive}; no
 * {@code WWW-Authenticate} (connection-bound authentication is decided on the decoded path).
 *
 * <p>Anything else, including anything merely unusual, makes {@link #scan} return false and the
 * response goes through the HTTP decoder as before, which refuses what it refuses (ambiguous
 * framing, a bad or repeated Content-Length, an oversized head, ...). So no refusal is lost:
 * every head accepted here is one the decoder accepts too, and {@value #MAX_HEAD} bytes is below
 * both of its limits (8 KiB of status line, 64 KiB of headers at the least).
 *
 * <p>The head is written to the client as it came, minus the lines {@link #drops} lists
 * (hop-by-hop headers: {@code Connection}, {@code Keep-Alive}, {@code Proxy-Connection},
 * {@code TE}, {@code Trailer}, {@code Upgrade}). One instance per backend leg, reused; not
 * thread-safe.
 * <pre>{@code
 * if (scan.scan(buf, buf.readerIndex(), buf.writerIndex())) {
 *     int bodyStart = scan.headEnd;  // scan.contentLength or scan.chunked frame the body
 * }
 * }</pre>
 */
final class ResponseScan {
    /** The largest head taken; below the decoder's smallest limits, so none of its size refusals is skipped. */
    static final int MAX_HEAD = 8 * 1024;
    /** The most hop-by-hop lines dropped from one head; more is unusual, and decoded. */
    static final int MAX_DROPS = 4;

    /** The index just past the blank line that ends the head. */
    int headEnd;
    int status;
    /** The Content-Length, or -1 when the body is chunked. */
    long contentLength;
    boolean chunked;
    /** The backend said {@code Connection: close}. */
    boolean close;
    /** Lines to leave out, as [start, end) pairs in order; {@link #dropCount} pairs are set. */
    final int[] drops = new int[2 * MAX_DROPS];
    int dropCount;

    /**
     * Scans {@code buf[from, to)} for a head taken by the raw path; fills the fields and returns
     * true, or returns false (the head is not whole in these bytes, or is anything but the common
     * case) with the fields undefined.
     */
    boolean scan(ByteBuf buf, int from, int to) {
        int limit = Math.min(to, from + MAX_HEAD);
        // "HTTP/1.1 " then three digits
        if (limit - from < 14 || buf.getInt(from) != 0x48545450 /* HTTP */ || buf.getInt(from + 4) != 0x2f312e31 /* /1.1 */
                || buf.getByte(from + 8) != ' ') {
            return false;
        }
        int d0 = buf.getByte(from + 9) - '0';
        int d1 = buf.getByte(from + 10) - '0';
        int d2 = buf.getByte(from + 11) - '0';
        if (d0 < 2 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) {
            return false;
        }
        int code = d0 * 100 + d1 * 10 + d2;
        if (code == 204 || code == 205 || code == 304) {
            return false; // bodyless by status: the encoder's rules for them apply (decoded path)
        }
        int i = from + 12;
        byte b = buf.getByte(i);
        if (b == ' ') {
            i = lineEnd(buf, i + 1, limit);
            if (i < 0) {
                return false;
            }
        } else if (b != '\r') {
            return false;
        }
        // i is at the CR of the status line
        if (i + 1 >= limit || buf.getByte(i + 1) != '\n') {
            return false;
        }
        i += 2;
        status = code;
        contentLength = -1;
        chunked = false;
        close = false;
        dropCount = 0;
        boolean sawLength = false;
        boolean sawCoding = false;
        while (true) {
            if (i >= limit) {
                return false;
            }
            int lineStart = i;
            b = buf.getByte(i);
            if (b == '\r') {
                if (i + 1 >= limit || buf.getByte(i + 1) != '\n') {
                    return false;
                }
                headEnd = i + 2;
                break;
            }
            // a token, the colon right after it (no obs-fold: a token never starts with a space)
            int next = headerLine(buf, lineStart, limit);
            if (next < 0) {
                return false;
            }
            int nameLen = buf.indexOf(lineStart, next, (byte) ':') - lineStart;
            int valueStart = lineStart + nameLen + 1;
            while (isSpace(buf.getByte(valueStart))) { // stops at the CR at the latest
                valueStart++;
            }
            int valueEnd = next - 2;
            while (valueEnd > valueStart && isSpace(buf.getByte(valueEnd - 1))) {
                valueEnd--;
            }
            i = next;
            switch (nameLen) {
                case 14: // content-length
                    if (is(buf, lineStart, "content-length")) {
                        if (sawLength) {
                            return false;
                        }
                        sawLength = true;
                        contentLength = digits(buf, valueStart, valueEnd);
                        if (contentLength < 0) {
                            return false;
                        }
                    }
                    break;
                case 17: // transfer-encoding
                    if (is(buf, lineStart, "transfer-encoding")) {
                        if (sawCoding || !is(buf, valueStart, valueEnd, "chunked")) {
                            return false;
                        }
                        sawCoding = true;
                    }
                    break;
                case 10: // connection, keep-alive
                    if (is(buf, lineStart, "connection")) {
                        int tokens = connectionTokens(buf, valueStart, valueEnd);
                        if (tokens < 0) {
                            return false;
                        }
                        close |= tokens == 1;
                        if (!drop(lineStart, i)) {
                            return false;
                        }
                    } else if (is(buf, lineStart, "keep-alive") && !drop(lineStart, i)) {
                        return false;
                    }
                    break;
                case 16: // proxy-connection, www-authenticate
                    if (is(buf, lineStart, "www-authenticate")) {
                        return false;
                    }
                    if (is(buf, lineStart, "proxy-connection") && !drop(lineStart, i)) {
                        return false;
                    }
                    break;
                case 2: // te
                    if (is(buf, lineStart, "te") && !drop(lineStart, i)) {
                        return false;
                    }
                    break;
                case 7: // trailer, upgrade
                    if ((is(buf, lineStart, "trailer") || is(buf, lineStart, "upgrade")) && !drop(lineStart, i)) {
                        return false;
                    }
                    break;
                default:
                    break;
            }
        }
        if (sawLength == sawCoding) {
            return false; // both (ambiguous) or neither (delimited by the close): decoded
        }
        chunked = sawCoding;
        return true;
    }

    private boolean drop(int start, int end) {
        if (dropCount == MAX_DROPS) {
            return false;
        }
        drops[2 * dropCount] = start;
        drops[2 * dropCount + 1] = end;
        dropCount++;
        return true;
    }

    /**
     * The index of the CR that ends the field value or reason phrase starting at {@code i}, or -1
     * if the line does not end before {@code limit} or holds a byte other than visible ASCII,
     * space, tab or obs-text (a bare LF, a NUL, any other control).
     */
    private static int lineEnd(ByteBuf buf, int i, int limit) {
        for (; i < limit; i++) {
            int c = buf.getByte(i) & 0xff;
            if (c == '\r') {
                return i;
            }
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return -1;
            }
        }
        return -1;
    }

    /** The value of 1 to 18 ASCII digits in {@code [start, end)}; -1 for anything else. */
    private static long digits(ByteBuf buf, int start, int end) {
        if (end <= start || end - start > 18) {
            return -1;
        }
        long v = 0;
        for (int i = start; i < end; i++) {
            int d = buf.getByte(i) - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            v = v * 10 + d;
        }
        return v;
    }

    /**
     * Reads a Connection value that lists only {@code close} and {@code keep-alive} (in any
     * case, with optional whitespace, empty elements allowed): 1 if it says close, 0 if not, -1
     * if it names anything else (headers to drop: the decoded path does that).
     */
    private static int connectionTokens(ByteBuf buf, int start, int end) {
        int result = 0;
        int i = start;
        while (i <= end) {
            int s = i;
            while (i < end && buf.getByte(i) != ',') {
                i++;
            }
            int e = i;
            while (s < e && isSpace(buf.getByte(s))) {
                s++;
            }
            while (e > s && isSpace(buf.getByte(e - 1))) {
                e--;
            }
            if (is(buf, s, e, "close")) {
                result = 1;
            } else if (e > s && !is(buf, s, e, "keep-alive")) {
                return -1;
            }
            i++;
        }
        return result;
    }

    private static boolean isSpace(byte b) {
        return b == ' ' || b == '\t';
    }

    /**
     * Checks one header (or trailer) line at {@code start}: a token, the colon right after it, a
     * value of the bytes {@link #scan} takes, CRLF, all before {@code limit}; returns the index
     * just past its CRLF, or -1.
     */
    static int headerLine(ByteBuf buf, int start, int limit) {
        int i = start;
        while (i < limit && isTchar(buf.getByte(i))) {
            i++;
        }
        if (i == start || i >= limit || buf.getByte(i) != ':') {
            return -1;
        }
        int cr = lineEnd(buf, i + 1, limit);
        return cr < 0 || cr + 1 >= limit || buf.getByte(cr + 1) != '\n' ? -1 : cr + 2;
    }

    /** Whether the bytes at {@code at} spell {@code lower} (ASCII letters without case). */
    static boolean is(ByteBuf buf, int at, String lower) {
        for (int k = 0; k < lower.length(); k++) {
            int c = buf.getByte(at + k);
            if (c >= 'A' && c <= 'Z') {
                c += 'a' - 'A';
            }
            if (c != lower.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private static boolean is(ByteBuf buf, int start, int end, String lower) {
        return end - start == lower.length() && is(buf, start, lower);
    }

    /** RFC 9110 tchar. */
    private static boolean isTchar(byte b) {
        int c = b & 0xff;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            return true;
        }
        switch (c) {
            case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
            case '^': case '_': case '`': case '|': case '~':
                return true;
            default:
                return false;
        }
    }
}
