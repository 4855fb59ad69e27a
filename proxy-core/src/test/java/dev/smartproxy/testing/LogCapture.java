package dev.smartproxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Captures what the test's SLF4J binding (slf4j-simple, which writes to {@code System.err} as it
 * is at each call) logs while it is open, still passing every line through to the real stream.
 * <pre>{@code
 * try (LogCapture log = LogCapture.start()) {
 *     ...
 *     assertThat(log.lines("WARN")).hasSize(1);
 * }
 * }</pre>
 */
public final class LogCapture implements AutoCloseable {
    private final PrintStream original;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

    private LogCapture() {
        original = System.err;
        OutputStream tee = new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (captured) {
                    captured.write(b);
                }
                original.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
                original.write(b, off, len);
            }
        };
        System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
    }

    /** Starts capturing. */
    public static LogCapture start() {
        return new LogCapture();
    }

    /** The lines logged so far that contain every one of {@code parts}. */
    public List<String> lines(String... parts) {
        String text;
        synchronized (captured) {
            text = captured.toString(StandardCharsets.UTF_8);
        }
        return text.lines().filter(l -> {
            for (String p : parts) {
                if (!l.contains(p)) {
                    return false;
                }
            }
            return true;
        }).toList();
    }

    /** Forgets what was captured so far. */
    public void clear() {
        synchronized (captured) {
            captured.reset();
        }
    }

    /** Stops capturing: {@code System.err} is the original stream again. */
    @Override
    public void close() {
        System.err.flush();
        System.setErr(original);
    }
}
