package dev.smartproxy.config;

import dev.smartproxy.internal.util.Checks;

import java.time.Duration;
import java.util.Objects;

/**
 * The timeouts one connection lives by, computed once by the proxy when its route is chosen,
 * from the proxy's {@link ConnectionPolicy}, the overrides for the connection's kind
 * ({@code policyFor}), and the route's {@link RoutePolicy}, in that order of precedence:
 * <b>route &gt; kind &gt; proxy</b>, setting by setting. A read-only value: read it from
 * {@code ConnectionInfo.policy()}. {@link Duration#ZERO} means "never".
 *
 * <ul>
 *   <li>{@code NORMAL}: the inactivity timeout as is; lifetime {@code maxConnectionLifetime};</li>
 *   <li>{@code EXTENDED}: inactivity x {@code keepAliveInactivityMultiplier}, then a warning and
 *       {@code extendedKeepAliveGrace}; lifetime {@code extendedKeepAliveLifetime};</li>
 *   <li>{@code IMMORTAL}: no inactivity close and no lifetime;</li>
 *   <li>an inactivity or lifetime override (kind or route) replaces the proxy's value before the
 *       multiplier is applied; a lifetime override holds whatever the treatment;</li>
 *   <li>half-close grace: {@code halfCloseGraceTls} for {@code PASSTHROUGH} and
 *       {@code TERMINATED}, {@code halfCloseGracePlain} for {@code PLAIN}, whatever the
 *       treatment: a connection one side has left is no longer a healthy one.</li>
 * </ul>
 *
 * @param treatment          the keepalive treatment in force
 * @param inactivityTimeout  no byte either way for this long starts the close; under
 *                           {@code EXTENDED} it is already multiplied; ZERO under {@code IMMORTAL}
 * @param inactivityGrace    under {@code EXTENDED}: time from the inactivity warning to the close,
 *                           cancelled by any byte; ZERO: close without a warning period
 * @param maxLifetime        age at which the connection is closed; ZERO under {@code IMMORTAL}
 * @param halfCloseGrace     after a FIN from one side, silence this long closes the connection
 *                           (by kind: TLS or plain); ZERO: wait for the other side's FIN
 * @param tcpKeepAlive       the TCP keepalive applied to both legs
 */
public record EffectivePolicy(KeepAliveTreatment treatment, Duration inactivityTimeout, Duration inactivityGrace,
                              Duration maxLifetime, Duration halfCloseGrace, TcpKeepAlive tcpKeepAlive) {

    /** Checks the components. */
    public EffectivePolicy {
        Objects.requireNonNull(treatment, "treatment");
        Objects.requireNonNull(inactivityTimeout, "inactivityTimeout");
        Objects.requireNonNull(inactivityGrace, "inactivityGrace");
        Objects.requireNonNull(maxLifetime, "maxLifetime");
        Objects.requireNonNull(halfCloseGrace, "halfCloseGrace");
        Objects.requireNonNull(tcpKeepAlive, "tcpKeepAlive");
    }

    @Override
    public String toString() {
        return treatment + "[inactivity=" + Checks.format(inactivityTimeout) + " grace=" + Checks.format(inactivityGrace)
                + " lifetime=" + Checks.format(maxLifetime) + " halfClose=" + Checks.format(halfCloseGrace) + "]";
    }
}
