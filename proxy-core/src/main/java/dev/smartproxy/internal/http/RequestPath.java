package dev.smartproxy.internal.http;

import java.util.Objects;

/**
 * Normalises the path of an HTTP request target per RFC 3986, so that routes match (and backends
 * receive) one canonical spelling of each path: {@code /%61dmin/./x}, {@code //admin/x} and
 * {@code /api/../admin/x} all become {@code /admin/x}. Pure and socket-free; safe from any thread.
 *
 * <p>The input is the path of an origin-form request target <em>without</em> the query (the query
 * is never looked at nor changed), or {@code *} for {@code OPTIONS *}. The steps, in order:
 *
 * <ol>
 *   <li><b>Refusals.</b> The path is refused (see {@link Rejected}) when it is empty or does not
 *       start with {@code /} (other than the exact {@code *}, which is returned unchanged), or
 *       contains a malformed percent-escape ({@code %} not followed by two hex digits:
 *       {@code %}, {@code %4}, {@code %zz}), an encoded NUL ({@code %00}), a raw control
 *       character (0x00-0x1F, 0x7F), a raw backslash, or a raw non-ASCII character. Netty's strict
 *       request-line parser passes all of these through (it refuses only spaces and tabs inside
 *       the target), so this is the line that refuses them. The first problem found is reported,
 *       and its text never echoes the offending characters.</li>
 *   <li><b>Percent-decoding of unreserved characters only</b> ({@code ALPHA DIGIT - . _ ~}, hex
 *       in either case): {@code %61} becomes {@code a}, {@code %2e} becomes {@code .},
 *       {@code %7E} becomes {@code ~}. Every other escape stays encoded with its hex upper-cased
 *       ({@code %c3%a9} becomes {@code %C3%A9}), so equal paths compare equal. Decoding is done
 *       once: {@code %252e} (an encoded {@code %}, then {@code 2e}) stays as it is, never
 *       {@code .}.</li>
 *   <li><b>Encoded slash</b> ({@code %2F}) and <b>encoded backslash</b> ({@code %5C}), in either
 *       case, per {@link EncodedSlash}: refused ({@link EncodedSlash#REJECT REJECT}, the
 *       default), turned into a {@code /} separator before the next two steps
 *       ({@link EncodedSlash#DECODE DECODE}: {@code /x/..%2fadmin} becomes {@code /admin}), or
 *       kept as the data byte it encodes, upper-cased, never a separator
 *       ({@link EncodedSlash#KEEP KEEP}: {@code /a%2fb} becomes {@code /a%2Fb}).</li>
 *   <li><b>Slash merging</b>, when asked (on by default in the product): each run of
 *       {@code /} becomes one, so {@code //admin///x} becomes {@code /admin/x}. Merging comes
 *       before dot-segment removal, so an empty segment is never what a {@code ..} removes:
 *       {@code /a//../b} becomes {@code /b}, as in nginx and in servlet containers that merge
 *       (RFC 3986 alone, without merging, gives {@code /a/b}).</li>
 *   <li><b>Dot-segment removal</b> per RFC 3986 section 5.2.4, after decoding, so {@code %2e}
 *       counts as a dot: {@code /./admin} and {@code /%2e/admin} become {@code /admin};
 *       {@code /api/../admin} and {@code /.%2e/admin} become {@code /admin}; {@code /a/b/..}
 *       becomes {@code /a/}. A {@code ..} at the root stays at the root: {@code /..} and
 *       {@code /../admin} become {@code /} and {@code /admin} (nginx answers 400 instead).</li>
 * </ol>
 *
 * <p>The result always starts with {@code /}, has no {@code .} or {@code ..} segment, no
 * {@code //} when merging, no escape of an unreserved character, no lower-case hex, and under
 * {@code DECODE} no {@code %2F} or {@code %5C}. No reserved character other than {@code /} (under
 * {@code DECODE}) is ever decoded. Normalising is idempotent: a normalised path normalises to
 * itself.
 *
 * <p><b>Fast path.</b> A valid path with no {@code %}, no {@code .} or {@code ..} segment and (when
 * merging) no {@code //} (the path of nearly every real request) is returned as the very same
 * {@code String} instance after one scan, with nothing allocated. Otherwise a new string is built,
 * unless it turns out equal to the input, which is then returned.
 *
 * <p><b>Not done</b> (each is a backend's own, non-RFC rule): decoding of reserved or non-ASCII
 * escapes (nginx decodes all of them for its location matching), case folding
 * ({@code /ADMIN/} is another path), and the removal of {@code ;} path parameters that some
 * servlet containers apply ({@code /x/..;/admin} is not a dot segment here).
 *
 * <pre>{@code
 * RequestPath.normalize("/api/../%61dmin//x", true, EncodedSlash.REJECT);   // "/admin/x"
 * RequestPath.normalize("/admin%2fx", true, EncodedSlash.REJECT);           // throws Rejected
 * RequestPath.normalize("/admin%2fx", true, EncodedSlash.DECODE);           // "/admin/x"
 * RequestPath.normalize("/admin%2fx", true, EncodedSlash.KEEP);             // "/admin%2Fx"
 * }</pre>
 */
public final class RequestPath {

    /** What to do with an encoded slash ({@code %2F}) or encoded backslash ({@code %5C}). */
    public enum EncodedSlash {
        /** Refuse the path (the request is answered 400). The default. */
        REJECT,
        /**
         * Decode it to a {@code /} separator before slash merging and dot-segment removal; an
         * encoded backslash becomes {@code /} too, as on backends that treat {@code \} as a
         * separator. The path forwarded is the decoded one.
         */
        DECODE,
        /**
         * Keep it encoded (hex upper-cased) as data, never a separator: {@code /a%2Fb} is one
         * segment and does not match {@code /a/}. Safe only when every backend also treats it as
         * data; a backend that decodes it after routing sees a different path than the route did.
         */
        KEEP
    }

    /**
     * A refused path. The message says why (for the 400 response and the DEBUG log line); it
     * gives offsets and hex codes, never the path's own characters. Carries no stack trace, so
     * refusing hostile traffic stays cheap.
     */
    public static final class Rejected extends Exception {
        private static final long serialVersionUID = 1L;

        /** A refusal with {@code reason} as its message. */
        public Rejected(String reason) {
            super(reason, null, false, false);
        }
    }

    private RequestPath() {
    }

    /**
     * Normalises {@code path} as the class comment describes.
     *
     * @param path         the path of the request target without the query, or {@code *}
     * @param mergeSlashes whether runs of {@code /} become one
     * @param encodedSlash what to do with {@code %2F} and {@code %5C}
     * @return the normalised path: {@code path} itself when nothing changes (always, without
     *         allocating, on the fast path), else a new string
     * @throws Rejected if the path is refused; the message says why
     */
    public static String normalize(String path, boolean mergeSlashes, EncodedSlash encodedSlash) throws Rejected {
        Objects.requireNonNull(encodedSlash, "encodedSlash");
        if (path == null || path.isEmpty()) {
            throw new Rejected("empty path");
        }
        if (path.equals("*")) {
            return path;
        }
        if (path.charAt(0) != '/') {
            throw new Rejected("path does not start with '/' (expected: an origin-form path or *)");
        }
        if (!scan(path, mergeSlashes, encodedSlash)) {
            return path;
        }
        String decoded = decode(path, encodedSlash);
        String result = removeDotSegments(decoded, mergeSlashes);
        return result.equals(path) ? path : result;
    }

    /**
     * Validates every character and escape, and tells whether anything must change. Allocates
     * nothing unless it throws.
     */
    private static boolean scan(String path, boolean mergeSlashes, EncodedSlash encodedSlash) throws Rejected {
        boolean work = false;
        int n = path.length();
        int segStart = 1;
        for (int i = 1; i < n; i++) {
            char c = path.charAt(i);
            if (c == '/') {
                work |= isDotSegment(path, segStart, i) || (mergeSlashes && i == segStart);
                segStart = i + 1;
            } else if (c == '%') {
                int v = escapeAt(path, i);
                if (v < 0) {
                    throw new Rejected("malformed percent-escape at offset " + i
                            + " (expected: % and two hex digits)");
                }
                if (v == 0) {
                    throw new Rejected("encoded NUL (%00) at offset " + i);
                }
                if ((v == '/' || v == '\\') && encodedSlash == EncodedSlash.REJECT) {
                    throw new Rejected("encoded " + (v == '/' ? "slash (%2F)" : "backslash (%5C)") + " at offset "
                            + i + " (refused by the encoded-slash setting)");
                }
                work = true;
                i += 2;
            } else if (c < 0x20 || c == 0x7f) {
                throw new Rejected(String.format("control character 0x%02X at offset %d", (int) c, i));
            } else if (c > 0x7e) {
                throw new Rejected(String.format("non-ASCII character 0x%02X at offset %d", (int) c, i));
            } else if (c == '\\') {
                throw new Rejected("raw backslash at offset " + i);
            }
        }
        return work || isDotSegment(path, segStart, n);
    }

    /** Whether {@code path[from, to)} is {@code .} or {@code ..}. */
    private static boolean isDotSegment(String path, int from, int to) {
        int len = to - from;
        return (len == 1 || len == 2) && path.charAt(from) == '.' && path.charAt(to - 1) == '.';
    }

    /** The byte the escape at {@code i} (a {@code %}) encodes, or -1 if it is malformed. */
    private static int escapeAt(String path, int i) {
        if (i + 2 >= path.length()) {
            return -1;
        }
        int hi = Character.digit(path.charAt(i + 1), 16);
        int lo = Character.digit(path.charAt(i + 2), 16);
        // Character.digit also accepts non-ASCII digits; the scan refuses those characters anyway,
        // but an escape must be ASCII hex on its own terms.
        if (hi < 0 || lo < 0 || path.charAt(i + 1) > 0x7f || path.charAt(i + 2) > 0x7f) {
            return -1;
        }
        return hi << 4 | lo;
    }

    private static boolean isUnreserved(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '-' || c == '.' || c == '_' || c == '~';
    }

    /** Step 2 and 3 on a path {@link #scan} accepted. */
    private static String decode(String path, EncodedSlash encodedSlash) {
        int n = path.length();
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            char c = path.charAt(i);
            if (c != '%') {
                b.append(c);
                continue;
            }
            int v = escapeAt(path, i);
            if (isUnreserved(v)) {
                b.append((char) v);
            } else if ((v == '/' || v == '\\') && encodedSlash == EncodedSlash.DECODE) {
                b.append('/');
            } else {
                b.append('%').append(Character.toUpperCase(path.charAt(i + 1)))
                        .append(Character.toUpperCase(path.charAt(i + 2)));
            }
            i += 2;
        }
        return b.toString();
    }

    /**
     * Steps 4 and 5: walks the segments of {@code path} (which starts with {@code /}), dropping
     * every empty segment but the last when merging, and applying RFC 3986 section 5.2.4 to the
     * rest: {@code .} is dropped, {@code ..} drops the segment before it (none at the root), and
     * either one as the last segment leaves a trailing {@code /}.
     */
    private static String removeDotSegments(String path, boolean mergeSlashes) {
        int n = path.length();
        StringBuilder out = new StringBuilder(n);
        int start = 1;
        while (start <= n) {
            int end = path.indexOf('/', start);
            boolean last = end < 0;
            if (last) {
                end = n;
            }
            if (mergeSlashes && !last && end == start) {
                start = end + 1;
                continue;
            }
            if (isDotSegment(path, start, end)) {
                if (end - start == 2) {
                    out.setLength(Math.max(out.lastIndexOf("/"), 0));
                }
                if (last) {
                    out.append('/');
                }
            } else {
                out.append('/').append(path, start, end);
            }
            start = end + 1;
        }
        return out.length() == 0 ? "/" : out.toString();
    }
}
