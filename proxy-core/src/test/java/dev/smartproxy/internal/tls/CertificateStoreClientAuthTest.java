package dev.smartproxy.internal.tls;

import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.config.ClientAuth;
import dev.smartproxy.testing.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLEngine;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CertificateStoreClientAuthTest {
    private static final String CA = TestPki.shared().ca().getCertificatePEM();

    @Test
    void eachCertificateAsksForClientCertificatesAsItsClientAuthSays() {
        CertificateSource required = TestPki.certificate("req.test")
                .clientAuth(ClientAuth.pem(ClientAuth.Mode.REQUIRED, CA).subjectHeader("X-Client-Subject"));
        CertificateSource optional = TestPki.certificate("opt.test")
                .clientAuth(ClientAuth.pem(ClientAuth.Mode.OPTIONAL, CA).subjectHeader("X_Client_DN"));
        CertificateSource none = TestPki.certificate("none.test");
        CertificateStore store = CertificateStore.of(List.of(required, optional, none), null);

        assertThat(store.clientAuth(store.select("req.test"))).isSameAs(required.clientAuth());
        assertThat(store.clientAuth(store.select("x.opt.test"))).isSameAs(optional.clientAuth());
        assertThat(store.clientAuth(store.select("none.test")).mode()).isEqualTo(ClientAuth.Mode.NONE);
        assertThat(store.clientAuth(null).mode()).isEqualTo(ClientAuth.Mode.NONE);
        assertThat(store.subjectHeaders()).containsExactlyInAnyOrder("x-client-subject", "x-client-dn");

        assertThat(engine(store.select("req.test"), e -> e.getNeedClientAuth())).isTrue();
        assertThat(engine(store.select("opt.test"), e -> e.getWantClientAuth())).isTrue();
        assertThat(engine(store.select("opt.test"), e -> e.getNeedClientAuth())).isFalse();
        assertThat(engine(store.select("none.test"), e -> e.getNeedClientAuth() || e.getWantClientAuth())).isFalse();
    }

    @Test
    void aClientAuthenticatingWildcardClaimsNamesAtAnyDepthThatOnlyTheDefaultIsPresentedFor() {
        CertificateSource required = TestPki.certificate("req.test").domains("req.test", "*.req.test")
                .clientAuth(ClientAuth.pem(ClientAuth.Mode.REQUIRED, CA));
        CertificateSource none = TestPki.certificate("none.test").domains("none.test", "*.none.test");
        CertificateStore store = CertificateStore.of(List.of(required, none), TestPki.certificate("default.test"));

        SslContext req = store.select("req.test");
        assertThat(store.select("a.b.req.test")).as("one-label wildcards: the default is presented")
                .isSameAs(store.defaultContext());
        assertThat(store.clientAuthClaiming("a.b.req.test")).as("but the client-auth certificate claims it").isSameAs(req);
        assertThat(store.clientAuthClaiming("A.B.Req.Test.")).isSameAs(req);
        assertThat(store.clientAuthClaiming("x.req.test")).isSameAs(req);
        assertThat(store.clientAuthClaiming("req.test")).isSameAs(req);
        assertThat(store.clientAuthClaiming("a.b.none.test")).as("no client authentication: no claim").isNull();
        assertThat(store.clientAuthClaiming("other.test")).isNull();
        assertThat(store.clientAuthClaiming(null)).isNull();
    }

    @Test
    void aMissingCaFileFailsWhenTheStoreIsBuilt() {
        Path missing = Path.of("/nonexistent/clients-ca.pem");
        CertificateSource s = TestPki.certificate("req.test").clientAuth(ClientAuth.required(missing));
        assertThatThrownBy(() -> CertificateStore.of(List.of(s), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("client CA " + missing + ": no such file (expected: an existing, readable PEM file)");
    }

    private static boolean engine(SslContext ctx, java.util.function.Predicate<SSLEngine> test) {
        SSLEngine e = ctx.newEngine(ByteBufAllocator.DEFAULT);
        try {
            return test.test(e);
        } finally {
            ReferenceCountUtil.release(e);
        }
    }
}
