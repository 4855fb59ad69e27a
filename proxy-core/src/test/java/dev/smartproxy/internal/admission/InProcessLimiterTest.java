package dev.smartproxy.internal.admission;

import dev.smartproxy.config.AdmissionSettings;
import dev.smartproxy.config.ConnectionLimiter.Decision;
import dev.smartproxy.config.ConnectionLimiter.Limit;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The in-process per-IP limiter with a moved clock: counts, the token bucket, bounds and eviction. */
class InProcessLimiterTest {
    private long now = 1_000_000_000L;

    private InProcessLimiter limiter(int perIp, int perMinute, int maxIdle) {
        return new InProcessLimiter(AdmissionSettings.builder().maxConnectionsPerIp(perIp)
                .connectionRateLimitPerMinute(perMinute).maxTrackedIps(maxIdle).build(), () -> now);
    }

    private static InetAddress ip(String text) throws UnknownHostException {
        return InetAddress.getByName(text);
    }

    private static InetAddress ip(int n) {
        try {
            return InetAddress.getByAddress(new byte[]{10, (byte) (n >> 16), (byte) (n >> 8), (byte) n});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private void advance(Duration d) {
        now += d.toNanos();
    }

    @Test
    void concurrentConnectionsPerIpAreCountedAndReleased() throws Exception {
        InProcessLimiter l = limiter(2, 0, 100);
        Decision a = l.acquire(ip("10.0.0.1"));
        Decision b = l.acquire(ip("10.0.0.1"));
        assertThat(a.admitted()).isTrue();
        assertThat(b.admitted()).isTrue();
        Decision c = l.acquire(ip("10.0.0.1"));
        assertThat(c.admitted()).isFalse();
        assertThat(c.refusedBy()).isEqualTo(Limit.CONNECTIONS_PER_IP);
        assertThat(l.acquire(ip("10.0.0.2")).admitted()).as("another IP").isTrue();
        l.release(a);
        assertThat(l.acquire(ip("10.0.0.1")).admitted()).isTrue();
    }

    @Test
    void anIpv4MappedAddressIsTheSameClient() throws Exception {
        InProcessLimiter l = limiter(1, 0, 100);
        assertThat(l.acquire(ip("10.0.0.1")).admitted()).isTrue();
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 0, 0, 1};
        assertThat(l.acquire(java.net.Inet6Address.getByAddress(null, mapped, -1)).admitted()).isFalse();
        assertThat(l.acquire(ip("2001:db8::1")).admitted()).isTrue();
    }

    @Test
    void theBucketBurstsItsCapacityThenRefillsContinuously() throws Exception {
        InProcessLimiter l = limiter(0, 60, 100); // one token a second
        InetAddress c = ip("10.0.0.1");
        for (int i = 0; i < 60; i++) {
            assertThat(l.acquire(c).admitted()).as("burst %s", i).isTrue();
        }
        Decision refused = l.acquire(c);
        assertThat(refused.refusedBy()).isEqualTo(Limit.RATE_PER_IP);
        assertThat(refused.retryAfter()).isEqualTo(Duration.ofSeconds(1));
        advance(Duration.ofMillis(999));
        Decision almost = l.acquire(c);
        assertThat(almost.admitted()).as("a refused attempt takes no token").isFalse();
        assertThat(almost.retryAfter()).isEqualTo(Duration.ofMillis(1));
        advance(Duration.ofMillis(1));
        assertThat(l.acquire(c).admitted()).isTrue();
        assertThat(l.acquire(c).admitted()).isFalse();
        advance(Duration.ofSeconds(10));
        for (int i = 0; i < 10; i++) {
            assertThat(l.acquire(c).admitted()).isTrue();
        }
        assertThat(l.acquire(c).admitted()).isFalse();
        advance(Duration.ofHours(1));
        int burst = 0;
        while (l.acquire(c).admitted()) {
            burst++;
        }
        assertThat(burst).as("the bucket never holds more than a minute's allowance").isEqualTo(60);
    }

    @Test
    void anIdleIpIsFreedOnceItsBucketIsFull() throws Exception {
        InProcessLimiter l = limiter(10, 60, 100);
        Decision d = l.acquire(ip("10.0.0.1"));
        assertThat(l.trackedIps()).isEqualTo(1);
        l.release(d);
        assertThat(l.idleIps()).as("a bucket still refilling is remembered").isEqualTo(1);
        advance(Duration.ofSeconds(1));
        l.release(l.acquire(ip("10.0.0.2"))); // calls sweep the head
        assertThat(l.trackedIps()).as("10.0.0.1 refilled and freed; 10.0.0.2 refilling").isEqualTo(1);
        advance(Duration.ofSeconds(2));
        l.acquire(ip("10.0.0.3"));
        assertThat(l.idleIps()).isZero();
    }

    @Test
    void withoutARateLimitAnIpWithNoConnectionHoldsNothing() throws Exception {
        InProcessLimiter l = limiter(10, 0, 100);
        l.release(l.acquire(ip("10.0.0.1")));
        assertThat(l.trackedIps()).isZero();
    }

    @Test
    void cyclingSourceAddressesNeverGrowsTheTablePastItsBound() {
        InProcessLimiter l = limiter(100, 300, 1000);
        for (int i = 0; i < 100_000; i++) {
            l.release(l.acquire(ip(i)));
            assertThat(l.idleIps()).isLessThanOrEqualTo(1000);
        }
        assertThat(l.trackedIps()).isEqualTo(1000);
        // The oldest went first: the newest IP is still limited by what it spent.
        assertThat(l.idleIps()).isEqualTo(1000);
    }

    @Test
    void openConnectionsAreNeverForgotten() {
        InProcessLimiter l = limiter(1, 300, 10);
        List<Decision> open = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            open.add(l.acquire(ip(i)));
        }
        for (int i = 50; i < 500; i++) {
            l.release(l.acquire(ip(i)));
        }
        assertThat(l.trackedIps()).isEqualTo(50 + 10);
        for (int i = 0; i < 50; i++) {
            assertThat(l.acquire(ip(i)).refusedBy()).as("ip %s still counted", i).isEqualTo(Limit.CONNECTIONS_PER_IP);
        }
        open.forEach(l::release);
        assertThat(l.trackedIps()).isEqualTo(10);
    }

    /** Measures the heap held per tracked idle IP (reported in the README); a loose bound guards regressions. */
    @Test
    void memoryPerTrackedIp() {
        int n = 200_000;
        long before = usedAfterGc();
        InProcessLimiter l = limiter(100, 300, n);
        for (int i = 0; i < n; i++) {
            l.release(l.acquire(ip(i)));
        }
        long after = usedAfterGc();
        assertThat(l.idleIps()).isEqualTo(n);
        long perIp = (after - before) / n;
        System.out.println("InProcessLimiter: " + perIp + " bytes per tracked IP (" + n + " IPs)");
        assertThat(perIp).isBetween(40L, 400L);
    }

    private static long usedAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
