package dev.smartproxy.route;

import dev.smartproxy.internal.util.DomainNames;

import java.util.Objects;

/**
 * A domain name pattern matched against the TLS SNI name.
 *
 * <ul>
 *   <li>{@code example.com}: exactly that name;</li>
 *   <li>{@code *.example.com}: any subdomain of {@code example.com}, at any depth
 *       ({@code a.example.com}, {@code a.b.example.com}), but not {@code example.com} itself;</li>
 *   <li>{@code *}: any name. It still needs a name: a connection without SNI matches no
 *       domain pattern, {@code *} included.</li>
 * </ul>
 *
 * <p>Matching ignores case and one trailing dot, on both the pattern and the name. Names are
 * ASCII: write internationalised names in their {@code xn--} form.
 * <pre>{@code
 * DomainPattern p = DomainPattern.of("*.Example.com.");
 * p.matches("api.example.com");   // true
 * p.matches("example.com");       // false
 * }</pre>
 */
public final class DomainPattern {
    private final String pattern;
    /** For {@code *.example.com}: {@code .example.com}; null otherwise. */
    private final String suffix;
    private final boolean any;

    private DomainPattern(String pattern) {
        this.pattern = pattern;
        this.any = pattern.equals("*");
        this.suffix = !any && pattern.startsWith("*.") ? pattern.substring(1) : null;
    }

    /**
     * Parses a pattern.
     *
     * @throws IllegalArgumentException if the pattern is empty, is not a valid host name, or has
     *         a wildcard anywhere but as the whole leftmost label
     */
    public static DomainPattern of(String pattern) {
        Objects.requireNonNull(pattern, "domain");
        String p = normalize(pattern);
        if (p.equals("*")) {
            return new DomainPattern(p);
        }
        String name = p.startsWith("*.") ? p.substring(2) : p;
        String problem = hostNameProblem(name);
        if (problem != null) {
            throw new IllegalArgumentException("domains: '" + pattern + "' " + problem
                    + " (expected: a host name such as example.com, *.example.com or *)");
        }
        return new DomainPattern(p);
    }

    /** Lower-cases a name (ASCII letters only) and drops one trailing dot. */
    public static String normalize(String name) {
        return DomainNames.normalize(name);
    }

    /** Returns why {@code name} is not a valid host name, or null if it is one. */
    static String hostNameProblem(String name) {
        return DomainNames.hostNameProblem(name);
    }

    /**
     * Whether {@code sni} matches this pattern. A null name (no SNI) matches nothing.
     * The name is compared case-insensitively, ignoring one trailing dot.
     */
    public boolean matches(String sni) {
        if (sni == null) {
            return false;
        }
        String name = normalize(sni);
        if (name.isEmpty()) {
            return false;
        }
        if (any) {
            return true;
        }
        if (suffix != null) {
            return name.length() > suffix.length() && name.endsWith(suffix);
        }
        return name.equals(pattern);
    }

    /** Whether this is the catch-all pattern {@code *}. */
    public boolean isCatchAll() {
        return any;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DomainPattern other && pattern.equals(other.pattern);
    }

    @Override
    public int hashCode() {
        return pattern.hashCode();
    }

    /** The normalised pattern: lower case, no trailing dot. */
    @Override
    public String toString() {
        return pattern;
    }
}
