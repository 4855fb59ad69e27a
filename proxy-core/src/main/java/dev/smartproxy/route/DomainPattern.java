package dev.smartproxy.route;

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
    private static final int MAX_NAME_LENGTH = 253;
    private static final int MAX_LABEL_LENGTH = 63;

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

    /** Lower-cases a name and drops one trailing dot. */
    public static String normalize(String name) {
        String n = name.strip();
        // Lower-case ASCII only: Unicode case folding would turn the Kelvin sign into 'k'.
        StringBuilder lower = null;
        for (int i = 0; i < n.length(); i++) {
            char c = n.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                if (lower == null) {
                    lower = new StringBuilder(n);
                }
                lower.setCharAt(i, (char) (c + 32));
            }
        }
        n = lower == null ? n : lower.toString();
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }

    /** Returns why {@code name} is not a valid host name, or null if it is one. */
    static String hostNameProblem(String name) {
        if (name.isEmpty()) {
            return "is empty";
        }
        if (name.length() > MAX_NAME_LENGTH) {
            return "is longer than " + MAX_NAME_LENGTH + " characters";
        }
        for (String label : name.split("\\.", -1)) {
            if (label.isEmpty()) {
                return "has an empty label";
            }
            if (label.length() > MAX_LABEL_LENGTH) {
                return "has a label longer than " + MAX_LABEL_LENGTH + " characters";
            }
            if (label.startsWith("-") || label.endsWith("-")) {
                return "has a label that starts or ends with '-'";
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                if (!ok) {
                    return c == '*' ? "has a wildcard that is not the whole leftmost label"
                            : c > 127 ? "is not ASCII (write it in its xn-- form)"
                            : "has the character '" + c + "'";
                }
            }
        }
        return null;
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
