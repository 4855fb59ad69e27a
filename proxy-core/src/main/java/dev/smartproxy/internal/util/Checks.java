package dev.smartproxy.internal.util;

import io.netty.util.NetUtil;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Objects;

/**
 * Validation helpers shared by the configuration builders. Messages read
 * {@code name: value (expected: range)}.
 */
public final class Checks {
    private Checks() {
    }

    /**
     * Checks a duration in {@code min..max}; with {@code zeroDisables}, {@link Duration#ZERO}
     * is also accepted and means "disabled".
     */
    public static Duration duration(String name, Duration value, Duration min, Duration max, boolean zeroDisables) {
        Objects.requireNonNull(value, name);
        if (zeroDisables && value.isZero()) {
            return value;
        }
        if (value.isNegative() || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            String range = format(min) + " to " + format(max);
            throw new IllegalArgumentException(name + ": " + format(value) + " (expected: "
                    + (zeroDisables ? "Duration.ZERO to disable, or " : "") + range + ")");
        }
        return value;
    }

    /**
     * Parses an IP address literal (IPv4 or IPv6) without any DNS lookup.
     *
     * @throws IllegalArgumentException naming {@code name} if {@code text} is not a literal
     */
    public static InetAddress ipLiteral(String name, String text) {
        Objects.requireNonNull(text, name);
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(text.strip());
        if (bytes == null) {
            throw new IllegalArgumentException(name + ": '" + text + "' (expected: an IP address literal)");
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(name + ": '" + text + "'", e);
        }
    }

    /** Checks {@code min <= value <= max}. */
    public static long range(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + ".." + max + ")");
        }
        return value;
    }

    /** A short human form: {@code 4h}, {@code 90s}, {@code 250ms}, {@code 7d}, {@code 1h30m}. */
    public static String format(Duration d) {
        if (d.isNegative()) {
            // The most negative Duration cannot be negated; a validator must still throw its own message.
            return d.getSeconds() == Long.MIN_VALUE ? d.toString() : "-" + format(d.negated());
        }
        if (d.isZero()) {
            return "0";
        }
        if (d.toNanosPart() % 1_000_000 != 0) {
            return d.toNanos() < 1_000_000 ? d.toNanos() + "ns" : d.toString();
        }
        StringBuilder sb = new StringBuilder();
        long days = d.toDaysPart();
        if (days > 0) {
            sb.append(days).append('d');
        }
        if (d.toHoursPart() > 0) {
            sb.append(d.toHoursPart()).append('h');
        }
        if (d.toMinutesPart() > 0) {
            sb.append(d.toMinutesPart()).append('m');
        }
        if (d.toSecondsPart() > 0) {
            sb.append(d.toSecondsPart()).append('s');
        }
        if (d.toMillisPart() > 0) {
            sb.append(d.toMillisPart()).append("ms");
        }
        return sb.toString();
    }
}
