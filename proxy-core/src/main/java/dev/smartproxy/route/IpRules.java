package dev.smartproxy.route;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * IP allow and block lists: addresses and CIDR blocks, IPv4 and IPv6 ({@link IpPattern}:
 * IPv4-mapped IPv6 addresses are folded to IPv4 on both sides). An address is permitted when no
 * block pattern matches it and, if the allow list is not empty, an allow pattern does: <b>block
 * wins</b> over allow. Empty lists permit everyone. Immutable.
 * <pre>{@code
 * IpRules office = IpRules.builder().allow("192.0.2.0/24", "2001:db8::/32").block("192.0.2.66").build();
 * }</pre>
 */
public final class IpRules {
    private static final IpRules NONE = new IpRules(List.of(), List.of());

    private final List<IpPattern> allow;
    private final List<IpPattern> block;

    private IpRules(List<IpPattern> allow, List<IpPattern> block) {
        this.allow = List.copyOf(allow);
        this.block = List.copyOf(block);
    }

    /** No rules: everyone is permitted. */
    public static IpRules none() {
        return NONE;
    }

    /** A builder with empty lists. */
    public static Builder builder() {
        return new Builder();
    }

    /** The allow list; empty means any address not blocked. */
    public List<IpPattern> allowList() {
        return allow;
    }

    /** The block list. */
    public List<IpPattern> blockList() {
        return block;
    }

    /** Whether both lists are empty. */
    public boolean isEmpty() {
        return allow.isEmpty() && block.isEmpty();
    }

    /** Whether {@code client} is permitted: not blocked, and allowed if there is an allow list. */
    public boolean permits(InetAddress client) {
        for (IpPattern p : block) {
            if (p.matches(client)) {
                return false;
            }
        }
        if (allow.isEmpty()) {
            return true;
        }
        for (IpPattern p : allow) {
            if (p.matches(client)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IpRules r && allow.equals(r.allow) && block.equals(r.block);
    }

    @Override
    public int hashCode() {
        return Objects.hash(allow, block);
    }

    @Override
    public String toString() {
        return "allow=" + allow + " block=" + block;
    }

    /** Builds {@link IpRules}; each pattern is checked at once. Not thread-safe. */
    public static final class Builder {
        private final List<IpPattern> allow = new ArrayList<>();
        private final List<IpPattern> block = new ArrayList<>();

        private Builder() {
        }

        /** Adds addresses or CIDR blocks to the allow list. */
        public Builder allow(String... patterns) {
            Objects.requireNonNull(patterns, "ipAllowList");
            Arrays.stream(patterns).map(p -> parse("ipAllowList", p)).forEach(allow::add);
            return this;
        }

        /** Adds addresses or CIDR blocks to the block list. */
        public Builder block(String... patterns) {
            Objects.requireNonNull(patterns, "ipBlockList");
            Arrays.stream(patterns).map(p -> parse("ipBlockList", p)).forEach(block::add);
            return this;
        }

        private static IpPattern parse(String list, String pattern) {
            try {
                return IpPattern.of(pattern);
            } catch (IllegalArgumentException e) {
                // IpPattern names its own setting (clientIps); say which list the pattern was for.
                throw new IllegalArgumentException(list + e.getMessage().substring("clientIps".length()), e);
            }
        }

        /** Builds the rules. */
        public IpRules build() {
            return allow.isEmpty() && block.isEmpty() ? NONE : new IpRules(allow, block);
        }
    }
}
