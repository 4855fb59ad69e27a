package dev.smartproxy.config;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a certificate the proxy presents is, as {@code SmartProxy.certificates()} reports it: the
 * leaf certificate of one {@link CertificateSource} in use, with the days left before it expires.
 * <pre>{@code
 * for (CertificateInfo c : proxy.certificates()) {
 *     if (c.daysLeft() < 14) {
 *         alert(c.source() + " " + c.domains() + " expires " + c.notAfter());
 *     }
 * }
 * }</pre>
 * The proxy cannot look inside a {@link CertificateSource#sslContext} source: for one,
 * {@code subject}, {@code issuer} and {@code serial} are empty, {@code notBefore} is
 * {@link Instant#MIN} and {@code notAfter} {@link Instant#MAX} (it never counts as expiring).
 *
 * @param source    where it came from, as {@link CertificateSource#description()}, e.g.
 *                  {@code certificate /etc/tls/site.pem}
 * @param domains   the names it is presented for ({@link CertificateSource#domains()})
 * @param isDefault whether it is the default certificate (no SNI, or no name matched)
 * @param subject   the leaf's subject, RFC 2253 ({@code CN=example.com})
 * @param issuer    the leaf's issuer, RFC 2253
 * @param serial    the leaf's serial number, upper-case hexadecimal, two digits per byte, as
 *                  {@code openssl x509 -serial} prints it
 * @param notBefore start of the validity period
 * @param notAfter  end of the validity period
 */
public record CertificateInfo(String source, List<String> domains, boolean isDefault, String subject,
                              String issuer, String serial, Instant notBefore, Instant notAfter) {
    private static final long SECONDS_PER_DAY = 86_400;

    /** Copies the domains; every field is required. */
    public CertificateInfo {
        Objects.requireNonNull(source, "source");
        domains = List.copyOf(domains);
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(issuer, "issuer");
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
    }

    /**
     * Whole days from {@code clock}'s now until {@link #notAfter()}, rounded down: 0 in the last
     * day, negative once expired (-1 in the first day after), {@link Long#MAX_VALUE} for a
     * source the proxy cannot look into.
     */
    public long daysLeft(Clock clock) {
        if (notAfter.equals(Instant.MAX)) {
            return Long.MAX_VALUE;
        }
        long seconds = Duration.between(clock.instant(), notAfter).getSeconds();
        return Math.floorDiv(seconds, SECONDS_PER_DAY);
    }

    /** {@link #daysLeft(Clock)} by the system clock. */
    public long daysLeft() {
        return daysLeft(Clock.systemUTC());
    }

    /** Whether {@code clock}'s now is inside the validity period. */
    public boolean isValid(Clock clock) {
        Instant now = clock.instant();
        return !now.isAfter(notAfter) && !now.isBefore(notBefore);
    }
}
