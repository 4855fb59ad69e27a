package dev.smartproxy.internal.connection;

import java.util.concurrent.ConcurrentHashMap;

/**
 * One shared instance per distinct SNI name: each connection parses its own copy from its
 * ClientHello, and the many connections to one name should keep one. Bounded: past
 * {@link #MAX} distinct names (random names from hostile clients) the table starts over.
 * <pre>{@code
 * String sni = SharedNames.of(parsedName);
 * }</pre>
 * Thread-safe.
 */
final class SharedNames {
    /** The most distinct names kept for sharing. */
    static final int MAX = 4096;
    private static final ConcurrentHashMap<String, String> NAMES = new ConcurrentHashMap<>();

    private SharedNames() {
    }

    /** The one instance of a name equal to {@code name} (null stays null). */
    static String of(String name) {
        if (name == null) {
            return null;
        }
        String known = NAMES.get(name);
        if (known != null) {
            return known;
        }
        if (NAMES.size() >= MAX) {
            NAMES.clear();
        }
        known = NAMES.putIfAbsent(name, name);
        return known != null ? known : name;
    }
}
