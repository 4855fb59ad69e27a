package dev.smartproxy.internal.util;

import java.util.Objects;

/**
 * Domain-name folding and checks shared by the public packages: route patterns, certificate
 * domains and backend SNI names all fold and validate names the same way, here.
 */
public final class DomainNames {
    private static final int MAX_NAME_LENGTH = 253;
    private static final int MAX_LABEL_LENGTH = 63;

    private DomainNames() {
    }

    /** Strips, lower-cases ASCII letters (only: no Unicode folding) and drops one trailing dot. */
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

    /** Returns why {@code name} (already normalised) is not a valid host name, or null if it is one. */
    public static String hostNameProblem(String name) {
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
     * Checks a certificate domain: a host name or a one-label wildcard {@code *.example.com}
     * (not {@code *}); returns it normalised.
     *
     * @throws IllegalArgumentException {@code domains: '<pattern>' <problem> (expected: ...)}
     */
    public static String certificateDomain(String pattern) {
        Objects.requireNonNull(pattern, "domain");
        String p = normalize(pattern);
        String host = p.startsWith("*.") ? p.substring(2) : p;
        String problem = host.isEmpty() ? "is empty"
                : host.contains("*") ? "has a wildcard that is not the whole leftmost label"
                : hostNameProblem(host) != null ? "is not a host name" : null;
        if (problem != null) {
            throw new IllegalArgumentException("domains: '" + pattern + "' " + problem
                    + " (expected: a host name such as example.com, or *.example.com)");
        }
        return p;
    }
}
