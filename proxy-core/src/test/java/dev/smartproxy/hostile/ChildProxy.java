package dev.smartproxy.hostile;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The test JVM's handle on the child JVM running {@link HostileProxyMain}: starts it with a small
 * heap and direct-memory limit, talks to it over its stdin/stdout, and scans everything it
 * prints for {@code OutOfMemoryError} and Netty's {@code LEAK:} reports. The child dies with the
 * test: {@link #close()} destroys it, and the child halts by itself when its stdin closes.
 */
final class ChildProxy implements AutoCloseable {
    /**
     * The child's JVM options. The heap and direct-memory limits are small enough that a proxy
     * holding client data without bound runs out within seconds of one attack, and several times
     * what the fixed proxy holds under all of them (see the bounds in {@link HostileClientTest}).
     */
    static final List<String> JVM_OPTIONS = List.of(
            "-Xmx96m", "-Xms96m", "-XX:MaxDirectMemorySize=64m", "-XX:+ExitOnOutOfMemoryError",
            "-XX:+UseSerialGC", "-Xss512k",
            "-Dio.netty.leakDetection.level=" + System.getProperty("hostile.leakDetection", "simple"),
            "-Dio.netty.leakDetection.samplingInterval=1");
    static final long MAX_HEAP = 96L << 20;
    static final long MAX_DIRECT = 64L << 20;

    /** Lines that must never appear: the JVM or an event loop ran out of memory, or a buffer leaked. */
    private static final Pattern ALARM = Pattern.compile("OutOf\\w*MemoryError|LEAK:");
    private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final PrintWriter stdin;
    private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    private final List<String> alarms = new CopyOnWriteArrayList<>();
    private final Deque<String> tail = new ArrayDeque<>();
    private final BufferedWriter log;
    private final Map<String, String> ready;
    private final Thread reaper;
    private Duration lastCpu = Duration.ZERO;

    private ChildProxy(Process process, Path logFile) throws IOException {
        this.process = process;
        this.stdin = new PrintWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII), true);
        this.log = Files.newBufferedWriter(logFile, StandardCharsets.UTF_8);
        this.reaper = new Thread(process::destroyForcibly, "hostile-child-reaper");
        Runtime.getRuntime().addShutdownHook(reaper); // the test JVM exits: the child goes too
        pump(process.getInputStream(), "out", true);
        pump(process.getErrorStream(), "err", false);
        String first = answer("ready", Duration.ofSeconds(60));
        this.ready = parse(first);
    }

    /**
     * Starts a child on the test JVM's class path and waits for its ports.
     *
     * @param logFile where everything the child prints goes
     */
    static ChildProxy start(Path logFile) throws IOException {
        Files.createDirectories(logFile.getParent());
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM_OPTIONS);
        cmd.add("-cp");
        cmd.add(testClassPath());
        cmd.add(HostileProxyMain.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        try {
            return new ChildProxy(p, logFile);
        } catch (IOException | RuntimeException | Error e) {
            p.destroyForcibly();
            throw e;
        }
    }

    /**
     * The class path of the tests. Surefire may run the tests from a manifest-only jar, whose
     * {@code java.class.path} is that jar alone; it then publishes the real one as
     * {@code surefire.test.class.path}.
     */
    static String testClassPath() {
        String surefire = System.getProperty("surefire.test.class.path");
        return surefire != null && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
    }

    private void pump(InputStream stream, String name, boolean control) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (control && line.startsWith(HostileProxyMain.PREFIX + " ")) {
                        answers.add(line);
                        continue;
                    }
                    if (ALARM.matcher(line).find()) {
                        alarms.add(line);
                    }
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > 60) {
                            tail.removeFirst();
                        }
                        log.write(line);
                        log.newLine();
                        log.flush();
                    }
                }
            } catch (IOException ignored) {
                // the child is gone
            }
        }, "hostile-child-" + name);
        t.setDaemon(true);
        t.start();
    }

    /** The port serving route port {@code name} ({@code http}, {@code tls}, {@code tcp}, {@code healthy}). */
    int port(String name) {
        return Integer.parseInt(ready.get(name));
    }

    /** Sends {@code command} without waiting for an answer (the self-tests). */
    synchronized void send(String command) {
        stdin.println(command);
    }

    /** Closes the child's stdin only, as the death of the test JVM would: the child halts. */
    synchronized void closeControl() {
        stdin.close();
    }

    /** A full GC in the child, then its memory, connections and CPU time. */
    Stats stats() {
        Map<String, String> m = request("stats");
        return new Stats(Long.parseLong(m.get("heapLive")), Long.parseLong(m.get("direct")), Long.parseLong(m.get("open")),
                Long.parseLong(m.get("openAttack")), Long.parseLong(m.get("appBackendOpen")),
                Long.parseLong(m.get("wsBackendOpen")), cpu(), m);
    }

    /** Connection counts only: cheap enough to poll. */
    Conns conns() {
        Map<String, String> m = request("conns");
        return new Conns(Long.parseLong(m.get("open")), Long.parseLong(m.get("openAttack")),
                Long.parseLong(m.get("appBackendOpen")), Long.parseLong(m.get("wsBackendOpen")),
                Long.parseLong(m.get("buffered")), m.get("byRoute"));
    }

    /** The child's CPU time so far (user + system), from the OS; once it is dead, the last value seen. */
    synchronized Duration cpu() {
        process.toHandle().info().totalCpuDuration().ifPresent(d -> lastCpu = d);
        return lastCpu;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** "running", or the exit code with what it means. */
    String exitDescription() {
        if (process.isAlive()) {
            return "running";
        }
        int code = process.exitValue();
        return "exit " + code + (code == 3 ? ": -XX:+ExitOnOutOfMemoryError" : code > 128 ? ": signal " + (code - 128) : "");
    }

    /** Lines the child printed that report an out-of-memory error or a leaked buffer. */
    List<String> alarms() {
        return List.copyOf(alarms);
    }

    /** The last lines the child printed (not counting control answers), for failure messages. */
    String tail() {
        synchronized (tail) {
            return String.join("\n", tail);
        }
    }

    private synchronized Map<String, String> request(String command) {
        if (!process.isAlive()) {
            throw new AssertionError("the child JVM is dead (exit " + process.exitValue() + ") before '" + command
                    + "'; its last lines:\n" + tail());
        }
        answers.clear();
        stdin.println(command);
        return parse(answer(command, CONTROL_TIMEOUT));
    }

    private String answer(String verb, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line;
            try {
                line = answers.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for the child's '" + verb + "'");
            }
            if (line != null && line.startsWith(HostileProxyMain.PREFIX + " " + verb)) {
                return line;
            }
            if (line == null && !process.isAlive()) {
                throw new AssertionError("the child JVM died (exit " + process.exitValue() + ") before answering '"
                        + verb + "'; its last lines:\n" + tail());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the child JVM did not answer '" + verb + "' within " + timeout.toSeconds()
                        + " s; its last lines:\n" + tail());
            }
        }
    }

    private static Map<String, String> parse(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        String[] parts = line.split(" ");
        for (int i = 2; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq > 0) {
                m.put(parts[i].substring(0, eq), parts[i].substring(eq + 1));
            }
        }
        return m;
    }

    /** Destroys the child (SIGTERM, then SIGKILL after 5 s: an out-of-memory JVM may ignore the first). */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
        cpu(); // the last value, for the summary
        stdin.close(); // the child's watchdog halts it
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        synchronized (tail) {
            try {
                log.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * Connection counts in the child: the proxy's open connections (all, and those not on the
     * healthy route), the backends' open legs, the bytes the proxy reports buffered, and the open connections
     * by route ({@code route:count,...}).
     */
    record Conns(long open, long openAttack, long appBackendOpen, long wsBackendOpen, long buffered, String byRoute) {
    }

    /**
     * One measurement of the child after a full GC.
     *
     * @param heapLive   heap in use right after the GC: the live heap
     * @param direct     direct memory in use: Netty's own count or the JDK's "direct" buffer pool,
     *                   whichever is larger
     * @param open       the proxy's open connections
     * @param openAttack the proxy's open connections not on the healthy route
     * @param cpu        the child's CPU time so far
     * @param raw        everything the child reported
     */
    record Stats(long heapLive, long direct, long open, long openAttack, long appBackendOpen, long wsBackendOpen,
                 Duration cpu, Map<String, String> raw) {
    }
}
