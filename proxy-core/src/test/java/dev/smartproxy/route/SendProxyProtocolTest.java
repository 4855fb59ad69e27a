package dev.smartproxy.route;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-route PROXY protocol setting on a forward: default off, carried, part of the action's identity. */
class SendProxyProtocolTest {
    private static ForwardAction forward(ProxyProtocol version) {
        return ForwardAction.builder().target("b", 443).tls(TlsMode.PASSTHROUGH).sendProxyProtocol(version).build();
    }

    @Test
    void offByDefault() {
        assertThat(ForwardAction.builder().target("b", 443).build().sendProxyProtocol()).isEmpty();
    }

    @Test
    void carriedAndPartOfEquality() {
        ForwardAction v2 = forward(ProxyProtocol.V2);
        assertThat(v2.sendProxyProtocol()).contains(ProxyProtocol.V2);
        assertThat(v2).isEqualTo(forward(ProxyProtocol.V2)).hasSameHashCodeAs(forward(ProxyProtocol.V2))
                .isNotEqualTo(forward(ProxyProtocol.V1)).isNotEqualTo(forward(null));
        assertThat(v2.toString()).endsWith("(proxy protocol V2)");
    }

    @Test
    void nullTurnsItOffAgain() {
        ForwardAction off = ForwardAction.builder().target("b", 80).sendProxyProtocol(ProxyProtocol.V1)
                .sendProxyProtocol(null).build();
        assertThat(off.sendProxyProtocol()).isEmpty();
    }

    @Test
    void theRouteBuilderTakesIt() {
        Route r = Route.named("pp").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("10.0.0.5", 8443).tls(TlsMode.TERMINATE).sendProxyProtocol(ProxyProtocol.V1))
                .build();
        assertThat(((ForwardAction) r.action()).sendProxyProtocol()).contains(ProxyProtocol.V1);
    }
}
