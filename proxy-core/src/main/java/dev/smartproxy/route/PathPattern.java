package dev.smartproxy.route;

import java.util.Objects;

/**
 * An HTTP request path pattern, matched against the path of the request URI (the query string
 * is ignored).
 *
 * <ul>
 *   <li>{@code *}: any path;</li>
 *   <li>{@code /api/}: a pattern ending in {@code /} is a prefix: {@code /api/}, {@code /api/v1/x};
 *       the bare {@code /api} matches too;</li>
 *   <li>{@code /static/*}: a trailing {@code *} is a prefix: anything starting {@code /static/};</li>
 *   <li>{@code /users/:id}: a segment starting with {@code :} matches exactly one non-empty
 *       segment ({@code /users/42}, not {@code /users/} nor {@code /users/42/posts});</li>
 *   <li>anything else matches exactly, case-sensitively.</li>
 * </ul>
 * <pre>{@code
 * PathPattern.of("/users/:id").matches("/users/42");   // true
 * PathPattern.of("/api/").matches("/api/v1/items");     // true
 * }</pre>
 */
public final class PathPattern {
    private final String pattern;
    private final String[] segments;
    private final boolean any;
    private final String prefix;

    private PathPattern(String pattern) {
        this.pattern = pattern;
        this.any = pattern.equals("*");
        if (!any && pattern.endsWith("*")) {
            this.prefix = pattern.substring(0, pattern.length() - 1);
        } else if (!any && pattern.endsWith("/") && pattern.length() > 1) {
            this.prefix = pattern;
        } else {
            this.prefix = null;
        }
        this.segments = any || prefix != null ? null : pattern.substring(1).split("/", -1);
    }

    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException if it is empty, does not start with {@code /} (other than
     *         {@code *}), has a {@code *} anywhere but at the end, or an empty {@code :name}
     */
    public static PathPattern of(String pattern) {
        Objects.requireNonNull(pattern, "paths");
        String p = pattern.strip();
        if (p.equals("*")) {
            return new PathPattern(p);
        }
        String expected = " (expected: *, a prefix such as /api/, or a path such as /users/:id)";
        if (!p.startsWith("/")) {
            throw new IllegalArgumentException("paths: '" + pattern + "' does not start with '/'" + expected);
        }
        int star = p.indexOf('*');
        if (star >= 0 && star != p.length() - 1) {
            throw new IllegalArgumentException("paths: '" + pattern + "' has a '*' that is not at the end" + expected);
        }
        for (String seg : p.split("/", -1)) {
            if (seg.equals(":")) {
                throw new IllegalArgumentException("paths: '" + pattern + "' has an unnamed ':' segment" + expected);
            }
        }
        return new PathPattern(p);
    }

    /** Whether {@code path} (a request path, query already removed) matches. */
    public boolean matches(String path) {
        if (path == null) {
            return false;
        }
        if (any) {
            return true;
        }
        if (prefix != null) {
            return path.startsWith(prefix)
                    || (prefix.endsWith("/") && path.equals(prefix.substring(0, prefix.length() - 1)));
        }
        if (!path.startsWith("/")) {
            return false;
        }
        String[] parts = path.substring(1).split("/", -1);
        if (parts.length != segments.length) {
            return false;
        }
        for (int i = 0; i < parts.length; i++) {
            String s = segments[i];
            if (s.startsWith(":") ? parts[i].isEmpty() : !s.equals(parts[i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PathPattern other && pattern.equals(other.pattern);
    }

    @Override
    public int hashCode() {
        return pattern.hashCode();
    }

    @Override
    public String toString() {
        return pattern;
    }
}
