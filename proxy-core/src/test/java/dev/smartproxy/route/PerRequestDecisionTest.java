package dev.smartproxy.route;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;

import static dev.smartproxy.route.IpPatternTest.ip;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What is decided per connection and what per request: a route that reads HTTP is never chosen
 * before the first bytes are read, and only a block without path or header conditions acts on
 * the connection as a whole.
 */
class PerRequestDecisionTest {
    private static final Route RAW = Route.named("raw").match(m -> m.ports(22)).forward(f -> f.target("b", 22)).build();
    private static final Route HANDLER = Route.named("handler").match(m -> m.ports(25))
            .handle(info -> new io.netty.channel.ChannelInboundHandlerAdapter()).build();
    private static final Route DENY_ALL = Route.named("deny-all").match(m -> m.ports(23)).block().build();
    private static final Route TO_HTTPS = Route.named("to-https").match(m -> m.ports(80)).redirectToHttps(308).build();
    private static final Route NO_ADMIN = Route.named("no-admin").match(m -> m.ports(81).paths("/admin/")).block().build();
    private static final Route BETA_BLOCK = Route.named("beta-block").match(m -> m.ports(82).header("x-beta", "1"))
            .block().build();
    private static final Route PLAIN_HTTP = Route.named("plain-http").match(m -> m.ports(8080))
            .forward(f -> f.target("b", 8080).http()).build();
    private static final Route TERMINATE = Route.named("terminate").match(m -> m.ports(443))
            .forward(f -> f.target("b", 8080).tls(TlsMode.TERMINATE)).build();
    private static final Route PASSTHROUGH = Route.named("passthrough").match(m -> m.ports(8443))
            .forward(f -> f.target("b", 8443).tls(TlsMode.PASSTHROUGH)).build();
    private static final RouteTable TABLE = RouteTable.of(List.of(RAW, HANDLER, DENY_ALL, TO_HTTPS, NO_ADMIN,
            BETA_BLOCK, PLAIN_HTTP, TERMINATE, PASSTHROUGH));

    @Test
    void routesThatActOnTheWholeConnectionAreChosenAtAccept() {
        for (Route r : List.of(RAW, HANDLER, DENY_ALL, PASSTHROUGH)) {
            int port = r.match().ports().stream().findFirst().orElseThrow();
            assertThat(TABLE.decideAtAccept(port, ip("10.0.0.1")).route()).as(r.name()).containsSame(r);
        }
    }

    @Test
    void routesThatReadHttpWaitForTheFirstBytes() {
        for (Route r : List.of(TO_HTTPS, NO_ADMIN, BETA_BLOCK, PLAIN_HTTP, TERMINATE)) {
            int port = r.match().ports().stream().findFirst().orElseThrow();
            RouteTable.AcceptDecision d = TABLE.decideAtAccept(port, ip("10.0.0.1"));
            assertThat(d.needsClientHello()).as(r.name()).isTrue();
            assertThat(d.route()).as(r.name()).isEmpty();
            assertThat(d.noRoute()).as(r.name()).isFalse();
        }
    }

    @Test
    void theFirstCandidateDecidesEvenWhenALaterOneCouldBeChosenAtAccept() {
        RouteTable t = RouteTable.of(List.of(
                Route.named("redirect").priority(10).match(m -> m.ports(80).clientIps("10.0.0.0/8"))
                        .redirect(302, "https://elsewhere.test{path}").build(),
                Route.named("tcp").match(m -> m.ports(80)).forward(f -> f.target("b", 80)).build()));
        assertThat(t.decideAtAccept(80, ip("10.1.2.3")).needsClientHello()).isTrue();
        assertThat(t.decideAtAccept(80, ip("192.0.2.1")).route().map(Route::name)).contains("tcp");
    }

    @Test
    void onlyABlockWithoutConditionsActsOnTheConnection() {
        assertThat(RouteTable.appliesPerRequest(DENY_ALL)).isFalse();
        assertThat(RouteTable.appliesPerRequest(RAW)).isFalse();
        assertThat(RouteTable.appliesPerRequest(HANDLER)).isFalse();
        assertThat(RouteTable.appliesPerRequest(PASSTHROUGH)).isFalse();
        for (Route r : List.of(TO_HTTPS, NO_ADMIN, BETA_BLOCK, PLAIN_HTTP, TERMINATE)) {
            assertThat(RouteTable.appliesPerRequest(r)).as(r.name()).isTrue();
        }
    }

    @Test
    void aConditionalBlockWinsTheConnectionButEachRequestIsMatchedOnItsOwn() {
        Route noAdmin = Route.named("no-admin").priority(10).match(m -> m.ports(443).domains("a.test").paths("/admin/"))
                .block().build();
        Route web = Route.named("web").match(m -> m.ports(443).domains("a.test"))
                .forward(f -> f.target("web", 8080).tls(TlsMode.TERMINATE)).build();
        RouteTable t = RouteTable.of(List.of(noAdmin, web));
        assertThat(t.match(RouteRequest.builder().port(443).sni("a.test").build())).containsSame(noAdmin);
        RouteRequest.Builder request = RouteRequest.builder().port(443).sni("a.test").host("a.test").tls(true);
        assertThat(t.match(request.path("/admin/x").build())).containsSame(noAdmin);
        assertThat(t.match(request.path("/public").build())).containsSame(web);
    }

    @Test
    void theAcceptDecisionAgreesWithMatchWheneverItChoosesARoute() {
        List<String> snis = Arrays.asList(null, "a.test", "b.test");
        List<InetAddress> clients = Arrays.asList(null, ip("10.1.1.1"), ip("203.0.113.1"));
        for (int port : new int[] {22, 23, 25, 80, 81, 82, 443, 8080, 8443, 9999}) {
            for (InetAddress client : clients) {
                RouteTable.AcceptDecision d = TABLE.decideAtAccept(port, client);
                for (String sni : snis) {
                    var m = TABLE.match(new RouteRequest(port, client, sni));
                    if (d.route().isPresent()) {
                        assertThat(m).as("port " + port).isEqualTo(d.route());
                        assertThat(RouteTable.appliesPerRequest(d.route().get())).isFalse();
                    } else if (d.noRoute()) {
                        assertThat(m).as("port " + port).isEmpty();
                    }
                }
            }
        }
    }
}
