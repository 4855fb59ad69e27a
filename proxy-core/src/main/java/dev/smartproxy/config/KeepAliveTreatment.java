package dev.smartproxy.config;

import java.util.Locale;

/**
 * How long an idle connection may live.
 *
 * <ul>
 *   <li>{@link #NORMAL}: closed after {@code inactivityTimeout} without a byte in either
 *       direction; at most {@code maxConnectionLifetime} old;</li>
 *   <li>{@link #EXTENDED}: the inactivity timeout is multiplied by
 *       {@code keepAliveInactivityMultiplier}; on expiry a warning event is sent and the close
 *       waits {@code extendedKeepAliveGrace}, cancelled by any byte; at most
 *       {@code extendedKeepAliveLifetime} old;</li>
 *   <li>{@link #IMMORTAL}: never closed for inactivity or age. Only the peers, a socket error,
 *       TCP keepalive finding a dead peer, the half-close grace once one side has sent a FIN
 *       (set it to {@code Duration.ZERO} to keep those too), or a proxy shutdown end it.</li>
 * </ul>
 *
 * <p>The treatment is chosen per proxy and may be overridden per route
 * ({@code Route.Builder.policy}); the result for each connection is its
 * {@link EffectivePolicy}.
 */
public enum KeepAliveTreatment {
    /** The inactivity timeout as configured. Called {@code standard} in the TypeScript SmartProxy. */
    NORMAL,
    /** The inactivity timeout times the multiplier, then a warning and a grace period. */
    EXTENDED,
    /** No inactivity or lifetime close at all. */
    IMMORTAL;

    /**
     * Parses a treatment name, ignoring case: {@code normal} (or its alias {@code standard}),
     * {@code extended}, {@code immortal}.
     *
     * @throws IllegalArgumentException for any other name
     */
    public static KeepAliveTreatment parse(String name) {
        String n = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        switch (n) {
            case "normal":
            case "standard":
                return NORMAL;
            case "extended":
                return EXTENDED;
            case "immortal":
                return IMMORTAL;
            default:
                throw new IllegalArgumentException("keepAliveTreatment: '" + name
                        + "' (expected: normal, standard, extended or immortal)");
        }
    }
}
