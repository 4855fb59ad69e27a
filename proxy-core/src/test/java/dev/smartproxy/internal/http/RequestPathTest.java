package dev.smartproxy.internal.http;

import dev.smartproxy.config.HttpSettings;
import dev.smartproxy.internal.http.RequestPath.EncodedSlash;
import dev.smartproxy.internal.http.RequestPath.Rejected;
import dev.smartproxy.route.PathPattern;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * {@link RequestPath}: pure tests, plus one check that Netty's strict request-line parser really
 * lets through what {@code RequestPath} refuses.
 */
class RequestPathTest {
    private static final String REJECTED = "REJECTED";

    /** The normalised path, or {@code REJECTED: reason}. */
    private static String norm(String path, boolean merge, EncodedSlash mode) {
        try {
            return RequestPath.normalize(path, merge, mode);
        } catch (Rejected e) {
            return REJECTED + ": " + e.getMessage();
        }
    }

    private static String norm(String path) {
        return norm(path, true, EncodedSlash.REJECT);
    }

    // ------------------------------------------------------------------ fast path

    @ParameterizedTest
    @ValueSource(strings = {"/", "/index.html", "/api/v1/items", "/a/.hidden/b", "/a/.../b", "/a..b/c.", "/a/b/",
            "/users/42", "/~user/-_/", "/a:b@c!$&'()*+,;=/x", "/.well-known/acme-challenge/t0k3n"})
    void aPathWithNothingToDoIsReturnedAsTheSameInstance(String raw) throws Rejected {
        String path = new String(raw);   // not the interned literal, so isSameAs proves no copy
        for (EncodedSlash mode : EncodedSlash.values()) {
            assertThat(RequestPath.normalize(path, true, mode)).isSameAs(path);
            assertThat(RequestPath.normalize(path, false, mode)).isSameAs(path);
        }
    }

    @Test
    void doubleSlashesAreLeftAloneAndTheInstanceKeptWhenNotMerging() throws Rejected {
        String path = new String("//a//b/");
        assertThat(RequestPath.normalize(path, false, EncodedSlash.REJECT)).isSameAs(path);
        assertThat(RequestPath.normalize(path, true, EncodedSlash.REJECT)).isEqualTo("/a/b/");
    }

    @Test
    void anAlreadyNormalisedPathWithEscapesIsReturnedAsTheSameInstance() throws Rejected {
        String path = new String("/caf%C3%A9/a%20b");
        assertThat(RequestPath.normalize(path, true, EncodedSlash.REJECT)).isSameAs(path);
        String kept = new String("/a%2Fb");
        assertThat(RequestPath.normalize(kept, true, EncodedSlash.KEEP)).isSameAs(kept);
    }

    /**
     * Counts this thread's allocated bytes through com.sun.management.ThreadMXBean. Reached by
     * reflection because the test sources compile inside the module, which does not read the
     * management modules; the tests themselves run on the class path, where it is readable.
     */
    private static final class AllocationCounter {
        private final Object bean;
        private final Method allocated;

        private AllocationCounter(Object bean, Method allocated) {
            this.bean = bean;
            this.allocated = allocated;
        }

        static AllocationCounter create() {
            try {
                Object bean = Class.forName("java.lang.management.ManagementFactory")
                        .getMethod("getThreadMXBean").invoke(null);
                Class<?> type = Class.forName("com.sun.management.ThreadMXBean");
                if (!type.isInstance(bean)
                        || !(Boolean) type.getMethod("isThreadAllocatedMemorySupported").invoke(bean)
                        || !(Boolean) type.getMethod("isThreadAllocatedMemoryEnabled").invoke(bean)) {
                    return null;
                }
                return new AllocationCounter(bean, type.getMethod("getCurrentThreadAllocatedBytes"));
            } catch (ReflectiveOperationException e) {
                return null;
            }
        }

        long bytes() {
            try {
                return (Long) allocated.invoke(bean);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void theFastPathAllocatesNothing() throws Rejected {
        AllocationCounter counter = AllocationCounter.create();
        assumeThat(counter).as("per-thread allocation counter").isNotNull();
        String[] paths = {"/", "/index.html", "/api/v1/items/42", "/static/app.9f3c.js", "/a/.hidden/"};
        long sink = 0;
        for (int i = 0; i < 1_000; i++) {   // loads and links everything the loop touches
            sink += RequestPath.normalize(paths[i % paths.length], true, EncodedSlash.REJECT).length();
        }
        counter.bytes();
        long before = counter.bytes();
        for (int i = 0; i < 100_000; i++) {
            sink += RequestPath.normalize(paths[i % paths.length], true, EncodedSlash.REJECT).length();
        }
        long allocated = counter.bytes() - before;
        assertThat(sink).isPositive();
        // One 16-byte object per call would be 1.6 MB; allow a little for the measurement itself.
        assertThat(allocated).as("bytes allocated by 100,000 fast-path calls").isLessThan(16_384);
        // and the counter does see allocations: the slow path builds new strings
        long slowBefore = counter.bytes();
        for (int i = 0; i < 1_000; i++) {
            sink += RequestPath.normalize("/%61dmin/x", true, EncodedSlash.REJECT).length();
        }
        assertThat(counter.bytes() - slowBefore).as("bytes allocated by 1,000 slow-path calls").isGreaterThan(16_384);
    }

    // ------------------------------------------------------------------ decoding

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "/%61dmin         | /admin",
            "/%41%42%5a%7a    | /ABZz",
            "/%30%39          | /09",
            "/%2d%2E%5f%7E    | /-._~",
            "/%7e%75ser       | /~user",
            "/a%2eb           | /a.b",
            "/caf%c3%a9       | /caf%C3%A9",
            "/a%20b%3a%3F%23  | /a%20b%3A%3F%23",
            "/%25             | /%25",
            "/%252e           | /%252e",
            "/%2561dmin       | /%2561dmin",
            "/%40%21%24%26    | /%40%21%24%26",
            "/%3b%3d%2b%2c    | /%3B%3D%2B%2C",
            "/%ff%80%7f%01    | /%FF%80%7F%01",
            "/a?b             | /a?b",
    })
    void decodesUnreservedOnlyAndUpperCasesTheRest(String in, String out) {
        for (EncodedSlash mode : EncodedSlash.values()) {
            assertThat(norm(in, true, mode)).as("%s", mode).isEqualTo(out);
        }
    }

    // ------------------------------------------------------------------ refusals

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "\"\"               | empty path",
            "admin            | does not start with '/'",
            "./admin          | does not start with '/'",
            "http://h/admin   | does not start with '/'",
            "**               | does not start with '/'",
            "/a%              | malformed percent-escape at offset 2",
            "/a%4             | malformed percent-escape at offset 2",
            "/a%zz            | malformed percent-escape at offset 2",
            "/a%g0/b          | malformed percent-escape at offset 2",
            "/a%0g/b          | malformed percent-escape at offset 2",
            "/%%41            | malformed percent-escape at offset 1",
            "/ok/%2           | malformed percent-escape at offset 4",
            "/a%00b           | encoded NUL (%00) at offset 2",
            "/a\\b            | raw backslash at offset 2",
            "/..\\admin       | raw backslash at offset 3",
    })
    void refusesMalformedOrDangerousPathsInEveryMode(String in, String reason) {
        for (EncodedSlash mode : EncodedSlash.values()) {
            for (boolean merge : new boolean[] {true, false}) {
                assertThat(norm(in, merge, mode)).as("%s merge=%s", mode, merge).startsWith(REJECTED)
                        .contains(reason);
            }
        }
    }

    @Test
    void refusesRawControlAndNonAsciiCharactersNamingTheirCode() {
        assertThat(norm("/a\u0001b")).isEqualTo(REJECTED + ": control character 0x01 at offset 2");
        assertThat(norm("/a\u0000b")).isEqualTo(REJECTED + ": control character 0x00 at offset 2");
        assertThat(norm("/a\rb")).isEqualTo(REJECTED + ": control character 0x0D at offset 2");
        assertThat(norm("/a\nb")).isEqualTo(REJECTED + ": control character 0x0A at offset 2");
        assertThat(norm("/a\tb")).isEqualTo(REJECTED + ": control character 0x09 at offset 2");
        assertThat(norm("/a\u007fb")).isEqualTo(REJECTED + ": control character 0x7F at offset 2");
        assertThat(norm("/caf\u00e9")).isEqualTo(REJECTED + ": non-ASCII character 0xE9 at offset 4");
        assertThat(norm("/\u00ff")).isEqualTo(REJECTED + ": non-ASCII character 0xFF at offset 1");
        assertThat(norm("/\u2028")).isEqualTo(REJECTED + ": non-ASCII character 0x2028 at offset 1");
        // hex digits outside ASCII are not hex digits for an escape
        assertThat(norm("/%\uff11\uff11")).startsWith(REJECTED + ": malformed percent-escape at offset 1");
    }

    @Test
    void theFirstProblemIsTheOneReported() {
        assertThat(norm("/a%zz\\%00")).isEqualTo(REJECTED + ": malformed percent-escape at offset 2"
                + " (expected: % and two hex digits)");
        assertThat(norm("/a\\%zz")).isEqualTo(REJECTED + ": raw backslash at offset 2");
        assertThat(norm("/a%2f%00")).startsWith(REJECTED + ": encoded slash (%2F) at offset 2");
        assertThat(norm("/a%2f%00", true, EncodedSlash.KEEP)).isEqualTo(REJECTED + ": encoded NUL (%00) at offset 5");
    }

    @Test
    void reasonsNeverEchoThePathsCharacters() {
        String evil = "/<script>%zz\u001b[31m";
        assertThat(norm(evil)).doesNotContain("<script>").doesNotContain("\u001b").doesNotContain("zz");
        assertThat(norm("/x\u001b[2J")).isEqualTo(REJECTED + ": control character 0x1B at offset 2");
    }

    @Test
    void nullPathIsRefusedAndNullModeIsAProgrammingError() {
        assertThat(norm(null)).isEqualTo(REJECTED + ": empty path");
        assertThatNullPointerException().isThrownBy(() -> RequestPath.normalize("/", true, null))
                .withMessage("encodedSlash");
    }

    @Test
    void rejectedCarriesNoStackTrace() {
        assertThatThrownBy(() -> RequestPath.normalize("/%zz", true, EncodedSlash.REJECT))
                .isInstanceOf(Rejected.class)
                .satisfies(e -> assertThat(e.getStackTrace()).isEmpty());
    }

    @ParameterizedTest
    @EnumSource(EncodedSlash.class)
    void asteriskPassesUnchanged(EncodedSlash mode) throws Rejected {
        String star = new String("*");
        assertThat(RequestPath.normalize(star, true, mode)).isSameAs(star);
        assertThat(RequestPath.normalize(star, false, mode)).isSameAs(star);
    }

    /**
     * Netty's strict request-line parser (the codec the proxy installs) hands every one of these
     * request targets to the proxy untouched; only a space or a tab inside the target makes it
     * fail the line. So {@code RequestPath} is the line that refuses them, not a second one.
     */
    @Test
    void nettysStrictCodecPassesWhatRequestPathRefuses() {
        String[] targets = {"/a%00b", "/a%zz", "/a%4", "/a%", "/a\\b", "/..\\admin", "/caf\u00e9", "/a\u0001b",
                "/a\u001bb", "/a\u007fb", "/a%2fb"};
        for (String target : targets) {
            EmbeddedChannel ch = new EmbeddedChannel(HttpProxyHandler.newServerCodec(HttpSettings.defaults()));
            try {
                ch.writeInbound(Unpooled.copiedBuffer("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n",
                        StandardCharsets.ISO_8859_1));
                Object first = ch.readInbound();
                try {
                    assertThat(first).as("%s", target.codePoints().mapToObj(Integer::toHexString).toList())
                            .isInstanceOf(HttpRequest.class);
                    HttpRequest req = (HttpRequest) first;
                    assertThat(req.decoderResult().isSuccess()).as("decoded %s", req.uri()).isTrue();
                    assertThat(req.uri()).isEqualTo(target);
                    assertThat(norm(req.uri())).startsWith(REJECTED);
                } finally {
                    ReferenceCountUtil.release(first);
                }
            } finally {
                ch.finishAndReleaseAll();
            }
        }
    }

    // ------------------------------------------------------------------ encoded slashes

    @ParameterizedTest(name = "{0}: REJECT {1}, DECODE {2}, KEEP {3}")
    @CsvSource(delimiter = '|', value = {
            "/a%2fb           | encoded slash (%2F) at offset 2     | /a/b        | /a%2Fb",
            "/a%2Fb           | encoded slash (%2F) at offset 2     | /a/b        | /a%2Fb",
            "/a%5cb           | encoded backslash (%5C) at offset 2 | /a/b        | /a%5Cb",
            "/a%5Cb           | encoded backslash (%5C) at offset 2 | /a/b        | /a%5Cb",
            "/a%2f%2fb        | encoded slash (%2F) at offset 2     | /a/b        | /a%2F%2Fb",
            "/x/..%2fadmin    | encoded slash (%2F) at offset 5     | /admin      | /x/..%2Fadmin",
            "/x/..%5cadmin    | encoded backslash (%5C) at offset 5 | /admin      | /x/..%5Cadmin",
            "/x/%2e%2e%2fa    | encoded slash (%2F) at offset 9     | /a          | /x/..%2Fa",
            "/a/b%2f..        | encoded slash (%2F) at offset 4     | /a/         | /a/b%2F..",
            "/%2f             | encoded slash (%2F) at offset 1     | /           | /%2F",
            "/a%2f            | encoded slash (%2F) at offset 2     | /a/         | /a%2F",
    })
    void encodedSlashPerMode(String in, String rejectReason, String decoded, String kept) {
        assertThat(norm(in, true, EncodedSlash.REJECT)).isEqualTo(REJECTED + ": " + rejectReason
                + " (refused by the encoded-slash setting)");
        assertThat(norm(in, true, EncodedSlash.DECODE)).isEqualTo(decoded);
        assertThat(norm(in, true, EncodedSlash.KEEP)).isEqualTo(kept);
    }

    @Test
    void decodedSlashesAreMergedOnlyWhenMerging() {
        assertThat(norm("/a%2F%2Fb", false, EncodedSlash.DECODE)).isEqualTo("/a//b");
        assertThat(norm("/a%2F/b", false, EncodedSlash.DECODE)).isEqualTo("/a//b");
        assertThat(norm("/a%2F/b", true, EncodedSlash.DECODE)).isEqualTo("/a/b");
    }

    // ------------------------------------------------------------------ dot segments and slashes

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "/.                   | /",
            "/..                  | /",
            "/./                  | /",
            "/../                 | /",
            "/./admin             | /admin",
            "/../admin            | /admin",
            "/../../../admin      | /admin",
            "/api/../admin        | /admin",
            "/a/b/..              | /a/",
            "/a/b/.               | /a/b/",
            "/a/b/../             | /a/",
            "/a/b/../c            | /a/c",
            "/a/./b/./c           | /a/b/c",
            "/a/b/c/./../../g     | /a/g",
            "/mid/content=5/../6  | /mid/6",
            "/%2e/admin           | /admin",
            "/.%2e/admin          | /admin",
            "/%2E%2E/admin        | /admin",
            "/a/%2e%2e            | /",
            "/a/%2e               | /a/",
            "/a/...               | /a/...",
            "/a/.b/..c/d.         | /a/.b/..c/d.",
            "/a/..%2e             | /a/...",
            "/a/.%41              | /a/.A",
    })
    void removesDotSegmentsAfterDecoding(String in, String out) {
        for (EncodedSlash mode : EncodedSlash.values()) {
            assertThat(norm(in, true, mode)).as("%s", mode).isEqualTo(out);
            assertThat(norm(in, false, mode)).as("%s no merge", mode).isEqualTo(out);
        }
    }

    @ParameterizedTest(name = "{0} -> merged {1}, unmerged {2}")
    @CsvSource(delimiter = '|', value = {
            "//                    | /           | //",
            "//admin///x           | /admin/x    | //admin///x",
            "/admin//              | /admin/     | /admin//",
            "/a//../b              | /b          | /a/b",
            "/a/..//b              | /b          | //b",
            "//..//admin           | /admin      | //admin",
            "/.//./admin           | /admin      | //admin",
            "/a/.//b               | /a/b        | /a//b",
            "///%61//%2e//b        | /a/b        | ///a///b",
    })
    void mergesSlashesBeforeRemovingDots(String in, String merged, String unmerged) {
        for (EncodedSlash mode : EncodedSlash.values()) {
            assertThat(norm(in, true, mode)).as("%s", mode).isEqualTo(merged);
            assertThat(norm(in, false, mode)).as("%s no merge", mode).isEqualTo(unmerged);
        }
    }

    // ------------------------------------------------------------------ the bypasses of issue 7 item 6

    /*
     * Every path of issue 7 item 6, and a few relatives, against a paths("/admin/") route, with
     * slash merging on (the product default). Each must be refused or match /admin/, except where
     * KEEP is chosen: then %2F is data, "/admin%2Fsecret" is one segment, and the route does not
     * apply. That is KEEP's documented meaning (a backend that decodes %2F after routing must
     * not be used with it), so those two cells say "no match" on purpose.
     *
     * nginx 1.22, for comparison (from its URI parser, ngx_http_parse_complex_uri, with the
     * default merge_slashes on): it matches locations against a fully decoded $uri, where a
     * decoded "%2F" or "%2e" acts like the raw character, dot segments are removed and slashes
     * merged. So a "location /admin/ { deny all; }" catches all eight inputs below (as our DECODE
     * does); it answers 400 for a malformed escape, %00, a raw control character (since 1.21.1)
     * and a ".." that climbs above the root (we clamp that at the root, per RFC 3986). It keeps
     * a raw backslash as an ordinary character on Unix and accepts raw non-ASCII bytes (we refuse
     * both). With "proxy_pass http://b;" (no URI part) nginx forwards the client's raw URI, not
     * the normalised one. Envoy offers the same three choices as EncodedSlash
     * (path_with_escaped_slashes_action) next to normalize_path and merge_slashes.
     */
    private static final String NO_MATCH = "(no match)";

    @ParameterizedTest(name = "{0}: REJECT {1}, DECODE {2}, KEEP {3}")
    @CsvSource(delimiter = '|', value = {
            // the eight paths of the issue
            "/%61dmin/secret        | /admin/secret | /admin/secret | /admin/secret",
            "//admin/secret         | /admin/secret | /admin/secret | /admin/secret",
            "/./admin/secret        | /admin/secret | /admin/secret | /admin/secret",
            "/api/../admin/secret   | /admin/secret | /admin/secret | /admin/secret",
            "/admin%2fsecret        | REJECTED      | /admin/secret | /admin%2Fsecret " + NO_MATCH,
            "/.%2e/admin/secret     | /admin/secret | /admin/secret | /admin/secret",
            "/x/..%2fadmin/secret   | REJECTED      | /admin/secret | /x/..%2Fadmin/secret " + NO_MATCH,
            "/%2e/admin/secret      | /admin/secret | /admin/secret | /admin/secret",
            // relatives
            "/admin                 | /admin        | /admin        | /admin",
            "/%41dmin/secret        | /Admin/secret " + NO_MATCH + " | /Admin/secret " + NO_MATCH
                    + " | /Admin/secret " + NO_MATCH,
            "/%2561dmin/secret      | /%2561dmin/secret " + NO_MATCH + " | /%2561dmin/secret " + NO_MATCH
                    + " | /%2561dmin/secret " + NO_MATCH,
            "///admin//secret       | /admin/secret | /admin/secret | /admin/secret",
            "/../admin/secret       | /admin/secret | /admin/secret | /admin/secret",
            "/x/%2e%2e/admin/secret | /admin/secret | /admin/secret | /admin/secret",
            "/x/.%2E/%61dmin/secret | /admin/secret | /admin/secret | /admin/secret",
            "/x//..//admin/secret   | /admin/secret | /admin/secret | /admin/secret",
            "/%2fadmin/secret       | REJECTED      | /admin/secret | /%2Fadmin/secret " + NO_MATCH,
            "/x/..%5cadmin/secret   | REJECTED      | /admin/secret | /x/..%5Cadmin/secret " + NO_MATCH,
            "/x/..\\admin/secret    | REJECTED      | REJECTED      | REJECTED",
            "/admin%00/secret       | REJECTED      | REJECTED      | REJECTED",
            "/%zzadmin/secret       | REJECTED      | REJECTED      | REJECTED",
            "/public/../../admin/x  | /admin/x      | /admin/x      | /admin/x",
    })
    void everyBypassIsRefusedOrNormalisedOntoTheRoute(String in, String reject, String decode, String keep)
            throws Rejected {
        PathPattern admin = PathPattern.of("/admin/");
        Map<EncodedSlash, String> expected = new EnumMap<>(EncodedSlash.class);
        expected.put(EncodedSlash.REJECT, reject);
        expected.put(EncodedSlash.DECODE, decode);
        expected.put(EncodedSlash.KEEP, keep);
        assertThat(admin.matches(in)).as("the raw path %s is a bypass", in).isEqualTo(in.equals("/admin"));
        for (EncodedSlash mode : EncodedSlash.values()) {
            String want = expected.get(mode);
            String got = norm(in, true, mode);
            if (want.equals(REJECTED)) {
                assertThat(got).as("%s %s", mode, in).startsWith(REJECTED + ": ");
                continue;
            }
            boolean shouldMatch = !want.endsWith(NO_MATCH);
            String path = shouldMatch ? want : want.substring(0, want.length() - NO_MATCH.length() - 1);
            assertThat(got).as("%s %s", mode, in).isEqualTo(path);
            assertThat(admin.matches(got)).as("%s %s -> %s matches /admin/", mode, in, got).isEqualTo(shouldMatch);
            assertThat(RequestPath.normalize(got, true, mode)).as("idempotent").isEqualTo(got);
        }
    }

    @Test
    void withoutMergingADoubleSlashStaysADifferentPath() {
        // Why merging is on by default: a backend that merges would serve /admin/secret.
        String got = norm("//admin/secret", false, EncodedSlash.REJECT);
        assertThat(got).isEqualTo("//admin/secret");
        assertThat(PathPattern.of("/admin/").matches(got)).isFalse();
    }

    // ------------------------------------------------------------------ properties

    private static final String[] TOKENS = {
            "/", "/", "/", "/", "/", ".", ".", "..", "a", "d", "m", "i", "n", "0", "~", "-", "_", "admin",
            "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%61", "%41", "%7e", "%7E", "%2d", "%5f", "%30",
            "%25", "%3a", "%3A", "%40", "%3f", "%23", "%c3%a9", "%20", ":", "@", "!", ";", "=", "+", "*",
    };
    private static final String[] BAD_TOKENS = {"%00", "%", "%4", "%zz", "%g1", "\\", "\u0001", "\u00e9"};
    private static final String CHARS = "/.%2efadmin0~-5cC/";
    private static final String RESERVED_BUT_SLASH = ":?#[]@!$&'()*+,;=";
    private static final Pattern ESCAPE = Pattern.compile("%(..)");

    /** Random paths: token strings (mostly valid) and raw character soup from a small alphabet. */
    private static List<String> randomPaths(long seed, int count) {
        Random rnd = new Random(seed);
        List<String> out = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            StringBuilder b = new StringBuilder("/");
            int len = rnd.nextInt(14);
            if (k % 2 == 0) {
                for (int i = 0; i < len; i++) {
                    b.append(rnd.nextInt(40) == 0 ? BAD_TOKENS[rnd.nextInt(BAD_TOKENS.length)]
                            : TOKENS[rnd.nextInt(TOKENS.length)]);
                }
            } else {
                for (int i = 0; i < len; i++) {
                    b.append(CHARS.charAt(rnd.nextInt(CHARS.length())));
                }
            }
            out.add(b.toString());
        }
        return out;
    }

    /** What must make a path be refused, found independently of the implementation. */
    private static boolean mustBeRefused(String p, EncodedSlash mode) {
        if (p.matches("(?s).*%(?![0-9A-Fa-f]{2}).*") || p.contains("%00") || p.contains("\\")) {
            return true;
        }
        if (p.chars().anyMatch(c -> c < 0x20 || c >= 0x7f)) {
            return true;
        }
        return mode == EncodedSlash.REJECT && Pattern.compile("%(2[fF]|5[cC])").matcher(p).find();
    }

    private static boolean isUnreserved(int c) {
        return Character.isLetterOrDigit(c) && c < 0x80 || "-._~".indexOf(c) >= 0;
    }

    /** The test's own decoding: a regex over escapes, not the implementation's loop. */
    private static String referenceDecode(String p, EncodedSlash mode) {
        Matcher m = ESCAPE.matcher(p);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            int v = Integer.parseInt(m.group(1), 16);
            String rep = isUnreserved(v) ? String.valueOf((char) v)
                    : (v == '/' || v == '\\') && mode == EncodedSlash.DECODE ? "/"
                    : "%" + m.group(1).toUpperCase(java.util.Locale.ROOT);
            m.appendReplacement(b, Matcher.quoteReplacement(rep));
        }
        m.appendTail(b);
        return b.toString();
    }

    /** RFC 3986 section 5.2.4, transcribed rule by rule on string buffers, as the oracle. */
    private static String rfcRemoveDotSegments(String path) {
        String in = path;
        StringBuilder out = new StringBuilder();
        while (!in.isEmpty()) {
            if (in.startsWith("../")) {                                  // A
                in = in.substring(3);
            } else if (in.startsWith("./")) {
                in = in.substring(2);
            } else if (in.startsWith("/./")) {                           // B
                in = in.substring(2);
            } else if (in.equals("/.")) {
                in = "/";
            } else if (in.startsWith("/../")) {                          // C
                in = in.substring(3);
                out.setLength(Math.max(out.lastIndexOf("/"), 0));
            } else if (in.equals("/..")) {
                in = "/";
                out.setLength(Math.max(out.lastIndexOf("/"), 0));
            } else if (in.equals(".") || in.equals("..")) {               // D
                in = "";
            } else {                                                      // E
                int next = in.indexOf('/', in.startsWith("/") ? 1 : 0);
                int end = next < 0 ? in.length() : next;
                out.append(in, 0, end);
                in = in.substring(end);
            }
        }
        return out.toString();
    }

    @Test
    void randomPathsKeepEveryPromise() throws Rejected {
        int accepted = 0;
        int refused = 0;
        int changed = 0;
        for (String p : randomPaths(20_240_607L, 3_000)) {
            for (EncodedSlash mode : EncodedSlash.values()) {
                for (boolean merge : new boolean[] {true, false}) {
                    String what = mode + (merge ? " merge " : " ") + p;
                    String got;
                    try {
                        got = RequestPath.normalize(p, merge, mode);
                    } catch (Rejected e) {
                        assertThat(mustBeRefused(p, mode)).as("refused %s: %s", what, e.getMessage()).isTrue();
                        refused++;
                        continue;
                    }
                    assertThat(mustBeRefused(p, mode)).as("accepted %s", what).isFalse();
                    accepted++;
                    if (!got.equals(p)) {
                        changed++;
                    }
                    // the oracle: decode, merge, then RFC 3986 5.2.4
                    String expected = referenceDecode(p, mode);
                    if (merge) {
                        expected = expected.replaceAll("/+", "/");
                    }
                    expected = rfcRemoveDotSegments(expected);
                    assertThat(got).as(what).isEqualTo(expected.isEmpty() ? "/" : expected);
                    // idempotent
                    assertThat(RequestPath.normalize(got, merge, mode)).as("twice " + what).isEqualTo(got);
                    // shape
                    assertThat(got).as(what).startsWith("/").doesNotContain("/./").doesNotContain("/../")
                            .doesNotEndWith("/.").doesNotEndWith("/..");
                    if (merge) {
                        assertThat(got).as(what).doesNotContain("//");
                    }
                    Matcher m = ESCAPE.matcher(got);
                    while (m.find()) {
                        String hex = m.group(1);
                        assertThat(hex).as(what).isEqualTo(hex.toUpperCase(java.util.Locale.ROOT));
                        assertThat(isUnreserved(Integer.parseInt(hex, 16))).as("%s still encodes %s", what, hex)
                                .isFalse();
                        if (mode == EncodedSlash.DECODE) {
                            assertThat(hex).as(what).isNotIn("2F", "5C");
                        }
                    }
                    // nothing reserved is ever decoded (only '/' under DECODE)
                    for (char r : RESERVED_BUT_SLASH.toCharArray()) {
                        assertThat(count(got, r)).as("%s: '%s'", what, r).isLessThanOrEqualTo(count(p, r));
                    }
                    if (mode != EncodedSlash.DECODE) {
                        assertThat(count(got, '/')).as(what).isLessThanOrEqualTo(count(p, '/'));
                    }
                }
            }
        }
        // the generator must exercise every branch, not just one of them
        assertThat(accepted).isGreaterThan(8_000);
        assertThat(refused).isGreaterThan(2_000);
        assertThat(changed).isGreaterThan(4_000);
    }

    private static long count(String s, char c) {
        return s.chars().filter(x -> x == c).count();
    }

    @Test
    void theOracleAgreesWithTheRfcsOwnExamples() {
        // RFC 3986 section 5.2.4 walks these two through the algorithm
        assertThat(rfcRemoveDotSegments("/a/b/c/./../../g")).isEqualTo("/a/g");
        assertThat(rfcRemoveDotSegments("mid/content=5/../6")).isEqualTo("mid/6");
        assertThat(rfcRemoveDotSegments("/..")).isEqualTo("/");
        assertThat(rfcRemoveDotSegments("/a//../b")).isEqualTo("/a/b");
    }
}
