package dev.smartproxy.internal.pipeline;

import dev.smartproxy.config.ClientAuth;
import dev.smartproxy.internal.connection.ManagedConnection;
import dev.smartproxy.internal.http.HttpRoute;
import dev.smartproxy.internal.tls.CertificateStore;
import dev.smartproxy.internal.tls.ClientCertificates;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What the TLS handshake of one terminated connection established, applied to each of its HTTP
 * requests before routing:
 * <ul>
 *   <li><b>Subject headers are the proxy's.</b> Every header named by any certificate's
 *       {@link ClientAuth#subjectHeader()} (also spelt with {@code _} for {@code -}, and as a
 *       token of {@code Connection}, which would make the proxy drop its own) is removed from
 *       every request, on every connection (TLS or not); then, on a connection whose client
 *       presented a verified certificate, the one the handshake's certificate names is set to
 *       the certificate's subject.</li>
 *   <li><b>No bypass through the Host header.</b> On a TLS connection, a request whose Host is
 *       served by another certificate than the one the handshake used (chosen by the SNI, or the
 *       default without SNI) is answered 421 (Misdirected Request) and not forwarded: that other
 *       certificate's client authentication, and the route rules of its names, were never applied
 *       to this connection. A Host served by the same certificate passes.</li>
 * </ul>
 * Created per connection; used on its event loop.
 */
final class ClientIdentity {
    private static final Logger log = LoggerFactory.getLogger(ClientIdentity.class);

    private final CertificateStore store;
    private final ManagedConnection conn;
    /** The context of the handshake; null on a plain connection. */
    private final SslContext handshake;
    private final SslHandler ssl;
    private final String sni;
    private final String subjectHeader;
    private boolean subjectRead;
    /**
     * The last Host that passed both checks: the store is fixed for the connection, so the next
     * request with the same Host (every request of a usual keep-alive client) passes without
     * looking the name up again.
     */
    private String passedHost;
    private String subject;

    /**
     * @param handshake the context the connection's handshake used (null: not TLS)
     * @param ssl       its TLS handler (null: not TLS)
     * @param sni       the SNI the client sent, for the log; null if none
     */
    ClientIdentity(CertificateStore store, ManagedConnection conn, SslContext handshake, SslHandler ssl, String sni) {
        this.store = store;
        this.conn = conn;
        this.handshake = handshake;
        this.ssl = ssl;
        this.sni = sni;
        this.subjectHeader = handshake == null ? null : store.clientAuth(handshake).subjectHeader().orElse(null);
    }

    /**
     * Removes client-sent subject headers, then answers 421 if {@code host} belongs to another
     * certificate than the handshake's; null when the request may be routed.
     *
     * @param host the request's host, lower case without port; null when it has none
     */
    HttpRoute before(String host, HttpHeaders headers) {
        removeSubjectHeaders(headers, store.subjectHeaders());
        if (handshake == null || host == null || host.equals(passedHost)) {
            return null;
        }
        if (store.select(host) != handshake) {
            log.debug("{}Host '{}' is served by another certificate than the handshake's (SNI '{}'): 421",
                    conn.log(), host, sni);
            return new HttpRoute.Respond("(misdirected)", 421, "Misdirected Request");
        }
        SslContext claimed = store.clientAuthClaiming(host);
        if (claimed != null && claimed != handshake) {
            // A name deeper than a client-authenticating wildcard covers is presented the default
            // certificate, but a route for *.example.com would still take it: it must not open a
            // way around that certificate's client authentication.
            log.debug("{}Host '{}' falls under a certificate that requires client authentication, not the "
                    + "handshake's (SNI '{}'): 421", conn.log(), host, sni);
            return new HttpRoute.Respond("(misdirected)", 421, "Misdirected Request");
        }
        passedHost = host;
        return null;
    }

    /** Sets the subject header on a request about to be forwarded, if this connection has one. */
    void forwarding(HttpHeaders headers) {
        if (subjectHeader == null) {
            return;
        }
        if (!subjectRead) {
            subjectRead = true;
            subject = ClientCertificates.subject(ssl.engine().getSession());
        }
        if (subject != null) {
            headers.set(subjectHeader, subject);
        }
    }

    /**
     * Removes every header in {@code names} (lower case), in any case and with {@code _} for
     * {@code -}, and drops those names from the {@code Connection} header's tokens.
     */
    static void removeSubjectHeaders(HttpHeaders headers, Set<String> names) {
        if (names.isEmpty()) {
            return;
        }
        for (String name : new ArrayList<>(headers.names())) {
            if (names.contains(name.toLowerCase(Locale.ROOT).replace('_', '-'))) {
                headers.remove(name);
            }
        }
        List<String> connection = headers.getAll(HttpHeaderNames.CONNECTION);
        if (connection.isEmpty()) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String value : connection) {
            for (String token : value.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !names.contains(t.toLowerCase(Locale.ROOT).replace('_', '-'))) {
                    kept.add(t);
                }
            }
        }
        if (kept.isEmpty()) {
            headers.remove(HttpHeaderNames.CONNECTION);
        } else {
            headers.set(HttpHeaderNames.CONNECTION, String.join(", ", kept));
        }
    }
}
