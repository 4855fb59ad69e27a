package dev.smartproxy.hostile;

import dev.smartproxy.hostile.ChildProxy.Conns;
import dev.smartproxy.hostile.ChildProxy.Stats;
import dev.smartproxy.testing.Await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

/**
 * The measurements and checks of one attack of {@link HostileClientTest}: a baseline, the
 * {@link HealthyClient} running throughout, the measurement with the attackers connected
 * ({@link #held()}), and, after they have gone, the connection counts, memory, alarms and the
 * healthy client's results ({@link #finish}). Failed checks are collected and reported together,
 * with a one-line summary that is printed whether the attack passed or not.
 */
final class AttackPhase {
    private final ChildProxy child;
    private final String name;
    private final int childNumber;
    private final Stats before;
    private final HealthyClient healthy;
    private final int alarmsBefore;
    private final List<String> failures = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private Stats held;
    private long peakBuffered;
    private String summary;

    /** Takes the baseline and starts the healthy client. */
    AttackPhase(ChildProxy child, int childNumber, String name) {
        this.child = child;
        this.childNumber = childNumber;
        this.name = name;
        this.before = child.stats();
        this.alarmsBefore = child.alarms().size();
        this.healthy = HealthyClient.start(child.port("healthy"));
    }

    /** Adds a fact to the summary line. */
    void note(String format, Object... args) {
        notes.add(String.format(Locale.ROOT, format, args));
    }

    /** Records a failure unless {@code ok}. */
    void check(boolean ok, String format, Object... args) {
        if (!ok) {
            failures.add(String.format(Locale.ROOT, format, args));
        }
    }

    /** {@link Await#until}, recording a timeout as a failure instead of throwing. */
    void awaitQuietly(String what, Duration timeout, BooleanSupplier condition) {
        try {
            Await.until(what, timeout, condition);
        } catch (AssertionError e) {
            failures.add(e.getMessage() + " (now " + safeConns() + ")");
        }
    }

    /**
     * The attack's duration: the attackers push (or stall) while this polls the proxy's reported
     * buffered bytes and the child's CPU time; ends early only if the child dies.
     */
    void window(Duration duration) {
        long deadline = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() < deadline && child.alive()) {
            try {
                peakBuffered = Math.max(peakBuffered, child.conns().buffered());
                child.cpu(); // keeps the last value seen, should the child die
            } catch (AssertionError unresponsive) {
                return; // reported by the checks that follow
            }
            LockSupport.parkNanos(100_000_000L); // the pace of measurement, not a wait for a condition
        }
    }

    /** The measurement with the attackers still connected: memory under the bounds. */
    void held() {
        held = child.stats();
        checkMemory("held", held);
    }

    private void checkMemory(String when, Stats s) {
        check(s.heapLive() <= HostileClientTest.HEAP_BOUND, "%s: live heap %s over the bound %s", when,
                mib(s.heapLive()), mib(HostileClientTest.HEAP_BOUND));
        check(s.direct() <= HostileClientTest.DIRECT_BOUND, "%s: direct memory %s over the bound %s", when,
                mib(s.direct()), mib(HostileClientTest.DIRECT_BOUND));
    }

    /**
     * Stops the healthy client, waits (bounded) for the proxy's connections and the backends'
     * legs to reach zero, measures again, and checks the alarms and the healthy requests.
     *
     * @param error what ended the attack's body early, or null
     * @return the summary line (also printed)
     */
    String finish(Throwable error) {
        HealthyClient.Result h = healthy.stop();
        if (error != null) {
            failures.add(0, "attack aborted: " + error);
        }
        Stats after = null;
        if (child.alive()) {
            try {
                Await.until("the proxy's connections and the backends' legs back to zero",
                        HostileClientTest.IDLE_DEADLINE, () -> {
                            Conns c = child.conns();
                            return c.open() == 0 && c.appBackendOpen() == 0 && c.wsBackendOpen() == 0;
                        });
            } catch (AssertionError e) {
                failures.add(e.getMessage() + " (now " + safeConns() + ")");
            }
            try {
                after = child.stats();
                checkMemory("after", after);
            } catch (AssertionError e) {
                failures.add(e.getMessage());
            }
        }
        if (!child.alive()) {
            boolean tailShown = error != null && String.valueOf(error.getMessage()).contains("last lines");
            failures.add("the child JVM died (" + child.exitDescription() + ")"
                    + (tailShown ? "" : "; its last lines:\n" + child.tail()));
        }
        List<String> alarms = child.alarms();
        if (alarms.size() > alarmsBefore) {
            List<String> fresh = alarms.subList(alarmsBefore, alarms.size());
            failures.add(fresh.size() + " OutOfMemoryError/LEAK: lines, first: " + fresh.get(0));
        }
        if (!h.failures().isEmpty()) {
            failures.add(h.failures().size() + " of " + (h.served() + h.failures().size())
                    + " healthy requests failed, first: " + h.failures().get(0));
        }
        if (h.served() == 0) {
            failures.add("no healthy request was served");
        }
        summary = summaryLine(h, after);
        System.out.println(summary);
        return summary;
    }

    /** Whether every check of the attack passed; call after {@link #finish}. */
    boolean passed() {
        return failures.isEmpty();
    }

    /** @throws AssertionError listing every failed check, the summary line last */
    void assertPassed() {
        if (!failures.isEmpty()) {
            throw new AssertionError(name + ":\n  - " + String.join("\n  - ", failures) + "\n" + summary);
        }
    }

    private String safeConns() {
        try {
            return child.conns().toString();
        } catch (AssertionError e) {
            return "unknown: " + e.getMessage().lines().findFirst().orElse("");
        }
    }

    private String summaryLine(HealthyClient.Result h, Stats after) {
        // CPU of the attack: from the baseline to the held measurement (to the last known without one).
        Duration cpuEnd = held != null ? held.cpu() : child.cpu();
        String cpu = held == null && !child.alive() ? "n/a (died)"
                : String.format(Locale.ROOT, "%.1f s", Math.max(0, cpuEnd.minus(before.cpu()).toMillis()) / 1000.0);
        if (peakBuffered >= 64 * 1024) {
            note("peak reported buffered %s", mib(peakBuffered));
        }
        if (after != null) {
            String closed = closedDelta(before.raw().get("closed"), after.raw().get("closed"));
            if (!closed.isEmpty()) {
                note("proxy closed %s", closed);
            }
        }
        if (!child.alive()) {
            note("CHILD DIED (%s)", child.exitDescription());
        }
        note("log child-%d.log", childNumber);
        return String.format(Locale.ROOT,
                "[hostile] %-42s | %s | held heap %s direct %s open %s | after heap %s direct %s | base heap %s "
                        + "direct %s | child cpu %s | healthy %d served %d failed p50 %d ms p99 %d ms max %d ms | %s",
                name, failures.isEmpty() ? "PASS" : "FAIL",
                held == null ? "-" : mib(held.heapLive()), held == null ? "-" : mib(held.direct()),
                held == null ? "-" : String.valueOf(held.openAttack()),
                after == null ? "-" : mib(after.heapLive()), after == null ? "-" : mib(after.direct()),
                mib(before.heapLive()), mib(before.direct()), cpu, h.served(), h.failures().size(),
                h.p50().toMillis(), h.p99().toMillis(), h.max().toMillis(), String.join("; ", notes));
    }

    /** The connections closed between two {@code REASON:n,...} reports, by reason. */
    static String closedDelta(String before, String after) {
        Map<String, Long> b = parseCounts(before);
        StringBuilder out = new StringBuilder();
        parseCounts(after).forEach((reason, n) -> {
            long d = n - b.getOrDefault(reason, 0L);
            if (d > 0) {
                out.append(out.length() == 0 ? "" : ",").append(reason).append(':').append(d);
            }
        });
        return out.toString();
    }

    private static Map<String, Long> parseCounts(String s) {
        Map<String, Long> m = new TreeMap<>();
        if (s != null && !s.equals("-")) {
            for (String part : s.split(",")) {
                int colon = part.lastIndexOf(':');
                m.put(part.substring(0, colon), Long.parseLong(part.substring(colon + 1)));
            }
        }
        return m;
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
