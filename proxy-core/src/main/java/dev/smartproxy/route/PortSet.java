package dev.smartproxy.route;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * An immutable set of TCP ports, held as sorted, merged, inclusive ranges.
 *
 * <p>Ports are 1 to 65535. Build one from single ports, lists and ranges:
 * <pre>{@code
 * PortSet web = PortSet.of(80, 443);
 * PortSet high = PortSet.range(8000, 8099);
 * PortSet both = PortSet.parse("80, 443, 8000-8099");
 * }</pre>
 */
public final class PortSet {
    /** Lowest valid port. */
    public static final int MIN_PORT = 1;
    /** Highest valid port. */
    public static final int MAX_PORT = 65535;

    private final int[] starts;
    private final int[] ends;

    private PortSet(List<int[]> ranges) {
        List<int[]> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingInt(r -> r[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] r : sorted) {
            int[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && r[0] <= last[1] + 1) {
                last[1] = Math.max(last[1], r[1]);
            } else {
                merged.add(new int[] {r[0], r[1]});
            }
        }
        starts = merged.stream().mapToInt(r -> r[0]).toArray();
        ends = merged.stream().mapToInt(r -> r[1]).toArray();
    }

    /**
     * The given ports.
     *
     * @throws IllegalArgumentException if no port is given or one is outside 1..65535
     */
    public static PortSet of(int... ports) {
        Objects.requireNonNull(ports, "ports");
        if (ports.length == 0) {
            throw new IllegalArgumentException("ports: empty (expected: at least one port in 1..65535)");
        }
        List<int[]> ranges = new ArrayList<>(ports.length);
        for (int p : ports) {
            checkPort("ports", p);
            ranges.add(new int[] {p, p});
        }
        return new PortSet(ranges);
    }

    /**
     * Every port from {@code from} to {@code to}, both included.
     *
     * @throws IllegalArgumentException if a bound is outside 1..65535 or {@code from > to}
     */
    public static PortSet range(int from, int to) {
        checkPort("ports", from);
        checkPort("ports", to);
        if (from > to) {
            throw new IllegalArgumentException("ports: " + from + "-" + to + " (expected: from <= to)");
        }
        return new PortSet(List.of(new int[] {from, to}));
    }

    /**
     * Parses a comma-separated list of ports and inclusive ranges, such as {@code "80, 443, 8000-8099"}.
     *
     * @throws IllegalArgumentException if the text is empty, malformed or names a port outside 1..65535
     */
    public static PortSet parse(String spec) {
        Objects.requireNonNull(spec, "spec");
        List<int[]> ranges = new ArrayList<>();
        for (String part : spec.split(",", -1)) {
            String p = part.strip();
            if (p.isEmpty()) {
                throw new IllegalArgumentException(
                        "ports: '" + spec + "' (expected: comma-separated ports or ranges such as 80,443,8000-8099)");
            }
            int dash = p.indexOf('-');
            if (!p.chars().allMatch(c -> c == '-' || c == ' ' || (c >= '0' && c <= '9'))) {
                throw new IllegalArgumentException(
                        "ports: '" + p + "' (expected: a port in 1..65535 or a range such as 8000-8099)");
            }
            try {
                if (dash < 0) {
                    int port = Integer.parseInt(p);
                    checkPort("ports", port);
                    ranges.add(new int[] {port, port});
                } else {
                    PortSet r = range(Integer.parseInt(p.substring(0, dash).strip()),
                            Integer.parseInt(p.substring(dash + 1).strip()));
                    ranges.add(new int[] {r.starts[0], r.ends[0]});
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "ports: '" + p + "' (expected: a port in 1..65535 or a range such as 8000-8099)");
            }
        }
        return new PortSet(ranges);
    }

    /** The union of this set and {@code other}. */
    public PortSet union(PortSet other) {
        List<int[]> all = new ArrayList<>();
        for (int i = 0; i < starts.length; i++) {
            all.add(new int[] {starts[i], ends[i]});
        }
        for (int i = 0; i < other.starts.length; i++) {
            all.add(new int[] {other.starts[i], other.ends[i]});
        }
        return new PortSet(all);
    }

    /** Whether {@code port} is in this set. O(log ranges). */
    public boolean contains(int port) {
        int lo = 0;
        int hi = starts.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (port < starts[mid]) {
                hi = mid - 1;
            } else if (port > ends[mid]) {
                lo = mid + 1;
            } else {
                return true;
            }
        }
        return false;
    }

    /** How many ports the set holds. */
    public int size() {
        int n = 0;
        for (int i = 0; i < starts.length; i++) {
            n += ends[i] - starts[i] + 1;
        }
        return n;
    }

    /** Every port of the set, ascending. */
    public IntStream stream() {
        IntStream s = IntStream.empty();
        for (int i = 0; i < starts.length; i++) {
            s = IntStream.concat(s, IntStream.rangeClosed(starts[i], ends[i]));
        }
        return s;
    }

    static void checkPort(String name, int port) {
        if (port < MIN_PORT || port > MAX_PORT) {
            throw new IllegalArgumentException(name + ": " + port + " (expected: 1..65535)");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PortSet other && java.util.Arrays.equals(starts, other.starts)
                && java.util.Arrays.equals(ends, other.ends);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Arrays.hashCode(starts) + java.util.Arrays.hashCode(ends);
    }

    /** The set in the form {@link #parse} reads, such as {@code 80,443,8000-8099}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < starts.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(starts[i]);
            if (ends[i] != starts[i]) {
                sb.append('-').append(ends[i]);
            }
        }
        return sb.toString();
    }
}
