package dev.smartproxy.route;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import static dev.smartproxy.route.IpPatternTest.ip;
import static dev.smartproxy.route.IpPatternTest.mapped;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RouteTableTest {

    static Route route(String name, int priority, Consumer<RouteMatch.Builder> match) {
        return Route.named(name).priority(priority).match(match).forward(f -> f.target("backend-" + name, 9000)).build();
    }

    static Route route(String name, Consumer<RouteMatch.Builder> match) {
        return route(name, 0, match);
    }

    static RouteTable table(Route... routes) {
        return RouteTable.of(List.of(routes));
    }

    static RouteRequest req(int port, String sni) {
        return RouteRequest.builder().port(port).sni(sni).build();
    }

    static RouteRequest req(int port, String sni, String client) {
        return RouteRequest.builder().port(port).sni(sni).clientAddress(client).build();
    }

    static String matchedName(RouteTable t, RouteRequest r) {
        return t.match(r).map(Route::name).orElse(null);
    }

    static List<String> names(List<Route> routes) {
        return routes.stream().map(Route::name).toList();
    }

    // ---- Order ----
    @Test
    void routesAreSortedByPriorityDescendingThenDeclarationOrder() {
        RouteTable t = table(
                route("a", 0, m -> m.ports(80)),
                route("b", 10, m -> m.ports(80)),
                route("c", 0, m -> m.ports(80)),
                route("d", -5, m -> m.ports(80)),
                route("e", 10, m -> m.ports(80)),
                route("f", 3, m -> m.ports(80)),
                route("g", Integer.MAX_VALUE, m -> m.ports(80)),
                route("h", Integer.MIN_VALUE, m -> m.ports(80)));
        assertThat(names(t.routes())).containsExactly("g", "b", "e", "f", "a", "c", "d", "h");
    }

    @Test
    void higherPriorityWinsEvenWhenDeclaredLater() {
        RouteTable t = table(
                route("catch-all", m -> m.ports(443).domains("*")),
                route("api", 10, m -> m.ports(443).domains("api.example.com")));
        assertThat(matchedName(t, req(443, "api.example.com"))).isEqualTo("api");
        assertThat(matchedName(t, req(443, "www.example.com"))).isEqualTo("catch-all");
    }

    @Test
    void equalPriorityFirstDeclaredWins() {
        RouteTable t = table(
                route("first", m -> m.ports(443).domains("*.example.com")),
                route("second", m -> m.ports(443).domains("api.example.com")));
        assertThat(matchedName(t, req(443, "api.example.com"))).isEqualTo("first");

        RouteTable reversed = table(
                route("second", m -> m.ports(443).domains("api.example.com")),
                route("first", m -> m.ports(443).domains("*.example.com")));
        assertThat(matchedName(reversed, req(443, "api.example.com"))).isEqualTo("second");
    }

    @Test
    void lowerPriorityIsAFallback() {
        RouteTable t = table(
                route("fallback", -1, m -> m.ports(443)),
                route("specific", m -> m.ports(443).domains("a.test")));
        assertThat(matchedName(t, req(443, "a.test"))).isEqualTo("specific");
        assertThat(matchedName(t, req(443, "b.test"))).isEqualTo("fallback");
        assertThat(matchedName(t, req(443, null))).isEqualTo("fallback");
    }

    @Test
    void firstMatchReturnedIsTheSameRouteObject() {
        Route a = route("a", m -> m.ports(80));
        RouteTable t = table(a);
        assertThat(t.match(req(80, null))).containsSame(a);
    }

    // ---- Ports ----
    @Test
    void singlePort() {
        RouteTable t = table(route("r", m -> m.ports(443)));
        assertThat(t.match(req(443, null))).isPresent();
        assertThat(t.match(req(444, null))).isEmpty();
        assertThat(t.match(req(442, null))).isEmpty();
    }

    @Test
    void listOfPorts() {
        RouteTable t = table(route("r", m -> m.ports(80, 443, 8443)));
        assertThat(t.match(req(80, null))).isPresent();
        assertThat(t.match(req(443, null))).isPresent();
        assertThat(t.match(req(8443, null))).isPresent();
        assertThat(t.match(req(81, null))).isEmpty();
    }

    @Test
    void rangeOfPorts() {
        RouteTable t = table(route("r", m -> m.portRange(8000, 8099)));
        assertThat(t.match(req(7999, null))).isEmpty();
        assertThat(t.match(req(8000, null))).isPresent();
        assertThat(t.match(req(8099, null))).isPresent();
        assertThat(t.match(req(8100, null))).isEmpty();
    }

    @Test
    void parsedSpec() {
        RouteTable t = table(route("r", m -> m.ports("80, 443, 9000-9002")));
        for (int p : new int[] {80, 443, 9000, 9001, 9002}) {
            assertThat(t.match(req(p, null))).as("port %d", p).isPresent();
        }
        for (int p : new int[] {79, 81, 442, 444, 8999, 9003}) {
            assertThat(t.match(req(p, null))).as("port %d", p).isEmpty();
        }
    }

    @Test
    void builderCallsAccumulate() {
        Route r = route("r", m -> m.ports(80).ports(PortSet.of(443)).portRange(8000, 8001).ports("9000"));
        assertThat(r.match().ports().stream().toArray()).containsExactly(80, 443, 8000, 8001, 9000);
    }

    @Test
    void portDecidesBetweenRoutes() {
        RouteTable t = table(
                route("http", m -> m.ports(80)),
                route("https", m -> m.ports(443)));
        assertThat(matchedName(t, req(80, null))).isEqualTo("http");
        assertThat(matchedName(t, req(443, null))).isEqualTo("https");
    }

    @Test
    void tablePortsAreTheUnionOfRoutePorts() {
        RouteTable t = table(
                route("a", m -> m.ports(443)),
                route("b", m -> m.ports(80, 443)),
                route("c", m -> m.portRange(8000, 8002)));
        assertThat(t.ports().stream().toArray()).containsExactly(80, 443, 8000, 8001, 8002);
    }

    @Test
    void matchWithoutPortsIsRejected() {
        assertThatThrownBy(() -> RouteMatch.builder().domains("a.test").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports")
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> Route.named("r").match(m -> m.domains("a.test")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ports");
    }

    @Test
    void badPortsInMatchAreRejected() {
        assertThatThrownBy(() -> RouteMatch.builder().ports(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> RouteMatch.builder().ports("80,x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ports");
        assertThatThrownBy(() -> RouteMatch.builder().portRange(10, 5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("from <= to");
    }

    // ---- Domains ----
    @Test
    void exactDomain() {
        RouteTable t = table(route("r", m -> m.ports(443).domains("api.example.com")));
        assertThat(t.match(req(443, "api.example.com"))).isPresent();
        assertThat(t.match(req(443, "www.example.com"))).isEmpty();
        assertThat(t.match(req(443, "x.api.example.com"))).isEmpty();
    }

    @Test
    void wildcardMatchesAnyDepthButNotTheApex() {
        RouteTable t = table(route("r", m -> m.ports(443).domains("*.example.com")));
        assertThat(t.match(req(443, "a.example.com"))).isPresent();
        assertThat(t.match(req(443, "a.b.example.com"))).isPresent();
        assertThat(t.match(req(443, "a.b.c.d.example.com"))).isPresent();
        assertThat(t.match(req(443, "example.com"))).isEmpty();
        assertThat(t.match(req(443, "notexample.com"))).isEmpty();
        assertThat(t.match(req(443, "a.example.com.evil.net"))).isEmpty();
    }

    @Test
    void apexAndWildcardTogether() {
        RouteTable t = table(
                route("both", m -> m.ports(443).domains("example.com", "*.example.com")),
                route("other", m -> m.ports(443).domains("*")));
        assertThat(matchedName(t, req(443, "example.com"))).isEqualTo("both");
        assertThat(matchedName(t, req(443, "a.example.com"))).isEqualTo("both");
        assertThat(matchedName(t, req(443, "example.org"))).isEqualTo("other");
    }

    @Test
    void starMatchesAnyNameButNotAConnectionWithoutSni() {
        RouteTable t = table(route("star", m -> m.ports(443).domains("*")));
        assertThat(t.match(req(443, "anything.test"))).isPresent();
        assertThat(t.match(req(443, "localhost"))).isPresent();
        assertThat(t.match(req(443, null))).isEmpty();
    }

    @Test
    void caseInsensitive() {
        RouteTable t = table(route("r", m -> m.ports(443).domains("Api.Example.COM", "*.Wild.Test")));
        assertThat(t.match(req(443, "api.example.com"))).isPresent();
        assertThat(t.match(req(443, "API.EXAMPLE.COM"))).isPresent();
        assertThat(t.match(req(443, "X.wild.test"))).isPresent();
        assertThat(t.match(req(443, "WILD.TEST"))).isEmpty();
    }

    @Test
    void trailingDotIgnoredOnBothSides() {
        RouteTable t = table(
                route("dotted", m -> m.ports(443).domains("a.test.")),
                route("wild", m -> m.ports(443).domains("*.w.test.")),
                route("plain", m -> m.ports(443).domains("b.test")));
        assertThat(matchedName(t, req(443, "a.test"))).isEqualTo("dotted");
        assertThat(matchedName(t, req(443, "a.test."))).isEqualTo("dotted");
        assertThat(matchedName(t, req(443, "x.w.test"))).isEqualTo("wild");
        assertThat(matchedName(t, req(443, "x.w.test."))).isEqualTo("wild");
        assertThat(matchedName(t, req(443, "b.test."))).isEqualTo("plain");
        assertThat(matchedName(t, req(443, "w.test."))).isNull();
    }

    @Test
    void routeWithoutDomainsTakesAnySni() {
        RouteTable t = table(route("tcp", m -> m.ports(443)));
        assertThat(t.match(req(443, "anything.test"))).isPresent();
        assertThat(t.match(req(443, null))).isPresent();
    }

    @Test
    void domainsAreNotCheckedAcrossPorts() {
        RouteTable t = table(
                route("a443", m -> m.ports(443).domains("a.test")),
                route("b8443", m -> m.ports(8443).domains("b.test")));
        assertThat(matchedName(t, req(443, "a.test"))).isEqualTo("a443");
        assertThat(matchedName(t, req(443, "b.test"))).isNull();
        assertThat(matchedName(t, req(8443, "a.test"))).isNull();
        assertThat(matchedName(t, req(8443, "b.test"))).isEqualTo("b8443");
    }

    @Test
    void invalidDomainInMatchIsRejected() {
        assertThatThrownBy(() -> RouteMatch.builder().ports(443).domains("a.*.test"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("domains")
                .hasMessageContaining("expected");
    }

    // ---- NoSni ----
    @Test
    void requestWithoutSniOnlyMatchesRoutesWithoutDomains() {
        RouteTable t = table(
                route("star", 100, m -> m.ports(443).domains("*")),
                route("wild", 50, m -> m.ports(443).domains("*.example.com")),
                route("exact", 20, m -> m.ports(443).domains("example.com")),
                route("plain", 0, m -> m.ports(443)));
        assertThat(matchedName(t, req(443, null))).isEqualTo("plain");
        assertThat(matchedName(t, req(443, "example.com"))).isEqualTo("star");
    }

    @Test
    void onlyDomainRoutesMeansNoMatchWithoutSni() {
        RouteTable t = table(
                route("star", m -> m.ports(443).domains("*")),
                route("exact", m -> m.ports(443).domains("example.com")));
        assertThat(t.match(req(443, null))).isEmpty();
    }

    @Test
    void emptyOrDotOnlySniIsNoSni() {
        RouteTable t = table(
                route("star", m -> m.ports(443).domains("*")),
                route("plain", -1, m -> m.ports(443)));
        assertThat(req(443, "").sni()).isNull();
        assertThat(req(443, ".").sni()).isNull();
        assertThat(matchedName(t, req(443, ""))).isEqualTo("plain");
        assertThat(matchedName(t, req(443, " . "))).isEqualTo("plain");
    }

    // ---- ClientIps ----
    @Test
    void exactIpv4() {
        RouteTable t = table(route("r", m -> m.ports(22).clientIps("192.0.2.10")));
        assertThat(t.match(req(22, null, "192.0.2.10"))).isPresent();
        assertThat(t.match(req(22, null, "192.0.2.11"))).isEmpty();
    }

    @Test
    void ipv4Cidr() {
        RouteTable t = table(route("r", m -> m.ports(22).clientIps("10.0.0.0/8", "192.168.1.0/24")));
        assertThat(t.match(req(22, null, "10.200.3.4"))).isPresent();
        assertThat(t.match(req(22, null, "192.168.1.77"))).isPresent();
        assertThat(t.match(req(22, null, "192.168.2.1"))).isEmpty();
        assertThat(t.match(req(22, null, "11.0.0.1"))).isEmpty();
    }

    @Test
    void exactAndCidrIpv6() {
        RouteTable t = table(
                route("exact", m -> m.ports(22).clientIps("2001:db8::1")),
                route("block", m -> m.ports(22).clientIps("2001:db8:aa::/48")));
        assertThat(matchedName(t, req(22, null, "2001:db8::1"))).isEqualTo("exact");
        assertThat(matchedName(t, req(22, null, "2001:db8:aa:1::5"))).isEqualTo("block");
        assertThat(matchedName(t, req(22, null, "2001:db8:ab::1"))).isNull();
        assertThat(matchedName(t, req(22, null, "10.0.0.1"))).isNull();
    }

    @Test
    void ipv4MappedIpv6ClientMatchesIpv4Cidr() {
        RouteTable t = table(route("r", m -> m.ports(443).clientIps("10.0.0.0/8")));
        RouteRequest mappedReq = RouteRequest.builder().port(443).clientAddress(mapped("10.1.2.3")).build();
        assertThat(mappedReq.clientAddress().getAddress()).hasSize(16);
        assertThat(t.match(mappedReq)).isPresent();
        assertThat(t.match(req(443, null, "::ffff:10.1.2.3"))).isPresent();
        RouteRequest outside = RouteRequest.builder().port(443).clientAddress(mapped("11.1.2.3")).build();
        assertThat(t.match(outside)).isEmpty();
    }

    @Test
    void ipv4MappedPatternMatchesIpv4Client() {
        RouteTable t = table(route("r", m -> m.ports(443).clientIps("::ffff:10.0.0.0/104")));
        assertThat(t.match(req(443, null, "10.9.9.9"))).isPresent();
        assertThat(t.match(req(443, null, "11.9.9.9"))).isEmpty();
    }

    @Test
    void unknownClientDoesNotMatchIpRestrictedRoutes() {
        RouteTable t = table(
                route("restricted", 1, m -> m.ports(80).clientIps("0.0.0.0/0", "::/0")),
                route("open", m -> m.ports(80)));
        assertThat(matchedName(t, req(80, null))).isEqualTo("open");
        assertThat(matchedName(t, req(80, null, "1.2.3.4"))).isEqualTo("restricted");
    }

    @Test
    void allConditionsMustHold() {
        RouteTable t = table(route("r", m -> m.ports(443).domains("a.test").clientIps("10.0.0.0/8")));
        assertThat(t.match(req(443, "a.test", "10.0.0.1"))).isPresent();
        assertThat(t.match(req(443, "b.test", "10.0.0.1"))).isEmpty();
        assertThat(t.match(req(443, "a.test", "11.0.0.1"))).isEmpty();
        assertThat(t.match(req(444, "a.test", "10.0.0.1"))).isEmpty();
        assertThat(t.match(req(443, null, "10.0.0.1"))).isEmpty();
    }

    @Test
    void ipRuleSelectsBetweenRoutesOfTheSameDomain() {
        RouteTable t = table(
                route("internal", 10, m -> m.ports(443).domains("app.test").clientIps("10.0.0.0/8")),
                route("public", m -> m.ports(443).domains("app.test")));
        assertThat(matchedName(t, req(443, "app.test", "10.1.1.1"))).isEqualTo("internal");
        assertThat(matchedName(t, req(443, "app.test", "203.0.113.9"))).isEqualTo("public");
    }

    @Test
    void invalidClientIpPatternIsRejected() {
        assertThatThrownBy(() -> RouteMatch.builder().ports(80).clientIps("localhost"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientIps")
                .hasMessageContaining("expected");
    }

    // ---- NoMatch ----
    @Test
    void unknownPortIsEmpty() {
        RouteTable t = table(route("r", m -> m.ports(443)));
        assertThat(t.match(req(80, null))).isEmpty();
        assertThat(t.match(req(80, "a.test", "10.0.0.1"))).isEmpty();
    }

    @Test
    void unmatchedSniIsEmptyNotAGuess() {
        RouteTable t = table(
                route("a", m -> m.ports(443).domains("a.test")),
                route("b", m -> m.ports(443).domains("b.test")));
        assertThat(t.match(req(443, "c.test"))).isEmpty();
    }

    @Test
    void matchRejectsNull() {
        RouteTable t = table(route("r", m -> m.ports(443)));
        assertThatThrownBy(() -> t.match(null)).isInstanceOf(NullPointerException.class);
    }

    // ---- Construction ----
    @Test
    void uniqueNamesEnforced() {
        Route a1 = route("same", m -> m.ports(80));
        Route a2 = route("same", m -> m.ports(443));
        assertThatThrownBy(() -> RouteTable.of(List.of(a1, a2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("same")
                .hasMessageContaining("expected: unique names");
    }

    @Test
    void namesAreStrippedBeforeTheUniquenessCheck() {
        Route a1 = route("same", m -> m.ports(80));
        Route a2 = route("  same ", m -> m.ports(443));
        assertThat(a2.name()).isEqualTo("same");
        assertThatThrownBy(() -> RouteTable.of(List.of(a1, a2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unique");
    }

    @Test
    void emptyTableRejected() {
        assertThatThrownBy(() -> RouteTable.of(List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("routes")
                .hasMessageContaining("expected");
    }

    @Test
    void nullsRejected() {
        assertThatThrownBy(() -> RouteTable.of(null)).isInstanceOf(NullPointerException.class);
        List<Route> withNull = new ArrayList<>();
        withNull.add(route("a", m -> m.ports(80)));
        withNull.add(null);
        assertThatThrownBy(() -> RouteTable.of(withNull)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void routeValidation() {
        assertThatThrownBy(() -> Route.named(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("route name").hasMessageContaining("expected");
        assertThatThrownBy(() -> Route.named("r").forward(f -> f.target("b", 1)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'r'").hasMessageContaining("match");
        assertThatThrownBy(() -> Route.named("r").match(m -> m.ports(1)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'r'").hasMessageContaining("action");
        assertThatThrownBy(() -> Route.named("r").forward(f -> f.tls(TlsMode.PASSTHROUGH)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("targets").hasMessageContaining("expected");
    }

    @Test
    void targets() {
        assertThat(Target.of("b", 8443).portFor(443)).isEqualTo(8443);
        assertThat(Target.sameAsClientPort("b").portFor(8080)).isEqualTo(8080);
        assertThat(Target.sameAsClientPort("b").usesClientPort()).isTrue();
        assertThat(Target.of(" b ", 1).host()).isEqualTo("b");
        assertThatThrownBy(() -> Target.of("b", 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target port").hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> Target.of(" ", 80))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target host").hasMessageContaining("expected");
    }

    // ---- Immutability ----
    @Test
    void routesListIsUnmodifiable() {
        RouteTable t = table(route("a", m -> m.ports(80)), route("b", m -> m.ports(81)));
        List<Route> routes = t.routes();
        assertThatThrownBy(() -> routes.add(route("c", m -> m.ports(82))))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> routes.remove(0)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(routes::clear).isInstanceOf(UnsupportedOperationException.class);
        assertThat(names(t.routes())).containsExactly("a", "b");
    }

    @Test
    void tableDoesNotSeeLaterChangesToTheSourceList() {
        List<Route> source = new ArrayList<>();
        source.add(route("a", m -> m.ports(80)));
        RouteTable t = RouteTable.of(source);
        source.add(route("b", 10, m -> m.ports(80)));
        source.clear();
        assertThat(names(t.routes())).containsExactly("a");
        assertThat(matchedName(t, req(80, null))).isEqualTo("a");
    }

    @Test
    void matchListsAreUnmodifiable() {
        RouteMatch m = RouteMatch.builder().ports(443).domains("a.test").clientIps("10.0.0.0/8").build();
        assertThatThrownBy(() -> m.domains().add(DomainPattern.of("b.test")))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> m.clientIps().add(IpPattern.of("0.0.0.0/0")))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> m.domains().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(RouteMatch.builder().ports(1).build().domains()).isEmpty();
    }

    @Test
    void matchIsNotChangedByItsBuilderAfterBuild() {
        RouteMatch.Builder b = RouteMatch.builder().ports(443).domains("a.test");
        RouteMatch m = b.build();
        b.domains("b.test").clientIps("10.0.0.0/8").ports(444);
        assertThat(m.domains()).containsExactly(DomainPattern.of("a.test"));
        assertThat(m.clientIps()).isEmpty();
        assertThat(m.ports()).isEqualTo(PortSet.of(443));
    }

    @Test
    void targetsAreUnmodifiable() {
        ForwardAction f = ForwardAction.builder().target("a", 1).target("b", 2).build();
        assertThatThrownBy(() -> f.targets().add(Target.of("c", 3)))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThat(f.targets()).containsExactly(Target.of("a", 1), Target.of("b", 2));
    }

    // ---- Requests ----
    @Test
    void sniIsNormalised() {
        RouteRequest r = req(443, "  Api.Example.COM. ");
        assertThat(r.sni()).isEqualTo("api.example.com");
        assertThat(r.sniName()).contains("api.example.com");
        assertThat(req(443, null).sniName()).isEmpty();
    }

    @Test
    void portValidated() {
        assertThatThrownBy(() -> RouteRequest.builder().port(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("port").hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> new RouteRequest(65536, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 1..65535");
        assertThatThrownBy(() -> RouteRequest.builder().sni("a.test").build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("port").hasMessageContaining("expected");
    }

    @Test
    void clientAddressMustBeALiteral() {
        assertThatThrownBy(() -> RouteRequest.builder().clientAddress("localhost"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clientAddress").hasMessageContaining("expected");
        assertThat(RouteRequest.builder().port(1).clientAddress(" 10.0.0.1 ").build().clientAddress())
                .isEqualTo(ip("10.0.0.1"));
    }
}
