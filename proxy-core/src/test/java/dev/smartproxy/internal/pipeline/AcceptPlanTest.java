package dev.smartproxy.internal.pipeline;

import dev.smartproxy.route.Route;
import dev.smartproxy.route.RouteMatch;
import dev.smartproxy.route.RouteRequest;
import dev.smartproxy.route.RouteTable;
import dev.smartproxy.route.TlsMode;
import io.netty.util.NetUtil;
import org.junit.jupiter.api.Test;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The accept-time plan over a route table: what is decided per connection and what per request.
 * A route that reads HTTP is never chosen before the first bytes are read, and only a block
 * without path or header conditions acts on the connection as a whole.
 */
class AcceptPlanTest {
    static Route route(String name, int priority, Consumer<RouteMatch.Builder> match) {
        return Route.named(name).priority(priority).match(match).forward(f -> f.target("backend-" + name, 9000)).build();
    }

    static Route route(String name, Consumer<RouteMatch.Builder> match) {
        return route(name, 0, match);
    }

    static RouteTable table(Route... routes) {
        return RouteTable.of(List.of(routes));
    }

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByAddress(NetUtil.createByteArrayFromIpAddressString(literal));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** A genuine IPv4-mapped IPv6 address, as a dual-stack socket reports it. */
    static InetAddress mapped(String v4) {
        byte[] v4b = NetUtil.createByteArrayFromIpAddressString(v4);
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(v4b, 0, b, 12, 4);
        try {
            return Inet6Address.getByAddress(null, b, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

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
            assertThat(AcceptPlan.decide(TABLE, port, ip("10.0.0.1")).route()).as(r.name()).containsSame(r);
        }
    }

    @Test
    void routesThatReadHttpWaitForTheFirstBytes() {
        for (Route r : List.of(TO_HTTPS, NO_ADMIN, BETA_BLOCK, PLAIN_HTTP, TERMINATE)) {
            int port = r.match().ports().stream().findFirst().orElseThrow();
            AcceptPlan.Decision d = AcceptPlan.decide(TABLE, port, ip("10.0.0.1"));
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
        assertThat(AcceptPlan.decide(t, 80, ip("10.1.2.3")).needsClientHello()).isTrue();
        assertThat(AcceptPlan.decide(t, 80, ip("192.0.2.1")).route().map(Route::name)).contains("tcp");
    }

    @Test
    void onlyABlockWithoutConditionsActsOnTheConnection() {
        assertThat(AcceptPlan.appliesPerRequest(DENY_ALL)).isFalse();
        assertThat(AcceptPlan.appliesPerRequest(RAW)).isFalse();
        assertThat(AcceptPlan.appliesPerRequest(HANDLER)).isFalse();
        assertThat(AcceptPlan.appliesPerRequest(PASSTHROUGH)).isFalse();
        for (Route r : List.of(TO_HTTPS, NO_ADMIN, BETA_BLOCK, PLAIN_HTTP, TERMINATE)) {
            assertThat(AcceptPlan.appliesPerRequest(r)).as(r.name()).isTrue();
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
                AcceptPlan.Decision d = AcceptPlan.decide(TABLE, port, client);
                for (String sni : snis) {
                    var m = TABLE.match(new RouteRequest(port, client, sni));
                    if (d.route().isPresent()) {
                        assertThat(m).as("port " + port).isEqualTo(d.route());
                        assertThat(AcceptPlan.appliesPerRequest(d.route().get())).isFalse();
                    } else if (d.noRoute()) {
                        assertThat(m).as("port " + port).isEmpty();
                    }
                }
            }
        }
    }

    // ---- decide: the accept-time plan (moved from RouteTableTest) ----
    @Test
    void firstCandidateWithoutDomainsIsRoutedAtAccept() {
        Route plain = route("plain", m -> m.ports(22));
        RouteTable t = table(plain, route("other", m -> m.ports(443).domains("a.test")));
        AcceptPlan.Decision d = AcceptPlan.decide(t, 22, ip("10.0.0.1"));
        assertThat(d.route()).containsSame(plain);
        assertThat(d.needsClientHello()).isFalse();
        assertThat(d.noRoute()).isFalse();
        assertThat(AcceptPlan.decide(t, 22, null).route()).containsSame(plain);
    }

    @Test
    void firstCandidateWithDomainsNeedsClientHello() {
        RouteTable t = table(
                route("sni", 10, m -> m.ports(443).domains("a.test")),
                route("fallback", m -> m.ports(443)));
        AcceptPlan.Decision d = AcceptPlan.decide(t, 443, ip("10.0.0.1"));
        assertThat(d.needsClientHello()).isTrue();
        assertThat(d.noRoute()).isFalse();
        assertThat(d.route()).isEmpty();
    }

    @Test
    void higherPriorityPlainRouteShadowsDomainRoutes() {
        RouteTable t = table(
                route("sni", m -> m.ports(443).domains("a.test")),
                route("plain", 10, m -> m.ports(443)));
        assertThat(AcceptPlan.decide(t, 443, ip("10.0.0.1")).route().map(Route::name)).contains("plain");
    }

    @Test
    void noCandidateIsNoRoute() {
        RouteTable t = table(route("r", m -> m.ports(443).clientIps("10.0.0.0/8")));
        AcceptPlan.Decision wrongPort = AcceptPlan.decide(t, 80, ip("10.0.0.1"));
        assertThat(wrongPort.noRoute()).isTrue();
        assertThat(wrongPort.needsClientHello()).isFalse();
        assertThat(wrongPort.route()).isEmpty();
        assertThat(AcceptPlan.decide(t, 443, ip("192.168.0.1")).noRoute()).isTrue();
        assertThat(AcceptPlan.decide(t, 443, null).noRoute()).isTrue();
    }

    @Test
    void clientRulesChooseTheCandidate() {
        RouteTable t = table(
                route("internal-sni", 10, m -> m.ports(443).domains("a.test").clientIps("10.0.0.0/8")),
                route("public-plain", m -> m.ports(443)));
        assertThat(AcceptPlan.decide(t, 443, ip("10.1.1.1")).needsClientHello()).isTrue();
        assertThat(AcceptPlan.decide(t, 443, ip("203.0.113.1")).route().map(Route::name)).contains("public-plain");
        assertThat(AcceptPlan.decide(t, 443, mapped("10.1.1.1")).needsClientHello()).isTrue();
    }

    @Test
    void decisionAgreesWithMatchForEverySni() {
        RouteTable t = table(
                route("sni-internal", 20, m -> m.ports(443).domains("*.corp.test").clientIps("10.0.0.0/8")),
                route("plain-internal", 15, m -> m.ports(443, 8443).clientIps("10.0.0.0/8")),
                route("sni", 10, m -> m.ports(443).domains("a.test")),
                route("ssh", m -> m.ports(22).clientIps("192.168.0.0/16", "2001:db8::/32")),
                route("fallback", -1, m -> m.portRange(8000, 8001)));
        List<String> snis = Arrays.asList(null, "a.test", "x.corp.test", "b.test");
        List<InetAddress> clients = Arrays.asList(null, ip("10.1.1.1"), ip("192.168.5.5"),
                ip("2001:db8::9"), ip("203.0.113.1"), mapped("10.2.2.2"));
        for (int port : new int[] {22, 80, 443, 8000, 8001, 8443}) {
            for (InetAddress client : clients) {
                AcceptPlan.Decision d = AcceptPlan.decide(t, port, client);
                List<Optional<Route>> results = new ArrayList<>();
                for (String sni : snis) {
                    results.add(t.match(new RouteRequest(port, client, sni)));
                }
                String ctx = "port " + port + " client " + client + " -> " + d;
                if (d.route().isPresent()) {
                    assertThat(results).as(ctx).allSatisfy(r -> assertThat(r).isEqualTo(d.route()));
                } else if (d.noRoute()) {
                    assertThat(results).as(ctx).allSatisfy(r -> assertThat(r).isEmpty());
                } else {
                    assertThat(d.needsClientHello()).as(ctx).isTrue();
                    assertThat(t.routes()).as(ctx).anyMatch(r -> r.match().ports().contains(port) && r.match().needsSni());
                }
            }
        }
    }

    @Test
    void servesPlainHttpOnlyWhereARouteReadsCleartextHttp() {
        RouteTable t = table(
                Route.named("tls").match(m -> m.ports(443)).forward(f -> f.target("b", 8080).tls(TlsMode.TERMINATE)).build(),
                Route.named("redirect").match(m -> m.ports(80)).redirectToHttps(308).build(),
                Route.named("http").match(m -> m.ports(8080)).forward(f -> f.target("b", 8080).http()).build(),
                Route.named("tcp").match(m -> m.ports(22)).forward(f -> f.target("b", 22)).build());
        assertThat(AcceptPlan.servesPlainHttp(t, 80)).isTrue();
        assertThat(AcceptPlan.servesPlainHttp(t, 8080)).isTrue();
        assertThat(AcceptPlan.servesPlainHttp(t, 443)).isFalse();
        assertThat(AcceptPlan.servesPlainHttp(t, 22)).isFalse();
        assertThat(AcceptPlan.readsHttp(t.routes().get(0))).isTrue();
        assertThat(AcceptPlan.readsHttp(t.routes().get(3))).isFalse();
    }
}
