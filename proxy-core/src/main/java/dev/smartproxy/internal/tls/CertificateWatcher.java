package dev.smartproxy.internal.tls;

import dev.smartproxy.config.CertificateSource;
import io.netty.handler.ssl.SslContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Polls the files behind the file-based certificates in use ({@link CertificateSource#files()})
 * and, when their content changes, reloads those certificates into a new {@link CertificateStore}.
 *
 * <p>A change is a change of content (a SHA-256 of the files, read through symlinks), so the
 * Kubernetes way of updating a mounted secret, an atomic swap of a symlinked directory that
 * leaves the watched path's own mtime alone, is seen like an edit in place. A certificate whose
 * new files cannot be used (a file that does not parse, a key that does not match, a pair of
 * which only one half has been written yet, a certificate without names) is logged as one WARN
 * line naming the files and the reason, without a stack trace, and ignored: the certificate
 * loaded before stays in use, and the files are tried again when their content changes again.
 * Certificates from PEM text or a user {@code SslContext} have no files and are not watched.
 *
 * <p>A store put in use by a certificate update ({@link #applied}) has its files' content recorded
 * as it was read for the update: a file changed after that is reloaded by the next poll, and files
 * unchanged since are not reloaded again.
 *
 * <p>One daemon thread per proxy, from {@link #start()} to {@link #close()}, which stops it
 * without an interrupt (a poll under way ends normally; a read interrupted would look like a bad
 * file). Every poll runs
 * holding the lock given to the constructor, the one that serialises certificate updates, so a
 * poll never overwrites an update made meanwhile: it starts from the store current under the lock.
 */
public final class CertificateWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CertificateWatcher.class);

    /** Where the watcher reads and replaces the certificates; called with the lock held. */
    public interface Target {
        /** The store in use. */
        CertificateStore current();

        /** Puts {@code next} in use, replacing {@code current()}. */
        void apply(CertificateStore next, String cause);
    }

    private final Duration interval;
    private final Object lock;
    private final Target target;
    /** The content hash of each set of files last seen; guarded by {@link #lock}. */
    private final Map<List<Path>, String> seen = new HashMap<>();
    private ScheduledExecutorService executor;
    /** Set by {@link #close()}: a poll that starts after it does nothing. */
    private volatile boolean closed;

    /**
     * @param interval how often to poll
     * @param lock     held during every poll: the lock certificate updates hold
     * @param target   the certificates in use
     */
    public CertificateWatcher(Duration interval, Object lock, Target target) {
        this.interval = Objects.requireNonNull(interval, "interval");
        this.lock = Objects.requireNonNull(lock, "lock");
        this.target = Objects.requireNonNull(target, "target");
    }

    /** Records the files' content as loaded now, then polls every interval on a daemon thread. */
    public synchronized void start() {
        synchronized (lock) {
            poll();
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "smartproxy-certificate-watch");
            t.setDaemon(true);
            return t;
        });
        long nanos = interval.toNanos();
        executor.scheduleWithFixedDelay(this::pollSafely, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** Stops polling and waits (briefly) for a poll under way to end. Idempotent. */
    @Override
    public synchronized void close() {
        if (executor == null) {
            return;
        }
        closed = true;
        executor.shutdown(); // no interrupt: a read under way would fail as if the file were bad
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor = null;
    }

    private void pollSafely() {
        if (closed) {
            return;
        }
        try {
            synchronized (lock) {
                poll();
            }
        } catch (RuntimeException e) {
            // Not expected (bad files are IllegalArgumentExceptions, handled per certificate);
            // the thread must survive it to poll again.
            log.warn("certificate watch: poll failed, trying again in {}: {}", interval, e.toString());
        }
    }

    /**
     * The content of the files of {@code sources} (and {@code defaultSource}, may be null) now:
     * read BEFORE an update loads them, then given to {@link #applied} once it is in use. A file
     * changing between the two is then seen changed by the next poll and reloaded (at worst once
     * too often, never missed). Call with the lock held.
     */
    public static Map<List<Path>, String> hashes(List<CertificateSource> sources, CertificateSource defaultSource) {
        Map<List<Path>, String> out = new HashMap<>();
        List<CertificateSource> all = new ArrayList<>(sources);
        if (defaultSource != null) {
            all.add(defaultSource);
        }
        for (CertificateSource s : all) {
            List<Path> files = s.files();
            if (!files.isEmpty() && !out.containsKey(files)) {
                out.put(files, hash(files));
            }
        }
        return out;
    }

    /**
     * A certificate update put a store in use whose files had the content {@code hashes}
     * ({@link #hashes}, read before the update loaded them): from now on a change is a change
     * from that content, and files no longer in use are forgotten. Call with the lock held.
     */
    public void applied(Map<List<Path>, String> hashes) {
        seen.clear();
        seen.putAll(hashes);
    }

    /**
     * One poll: reloads every certificate whose files changed since the last poll and, if any
     * could be used, applies the new store. Call with the lock held.
     */
    void poll() {
        CertificateStore store = target.current();
        List<CertificateSource> all = new ArrayList<>(store.sources());
        if (store.defaultSource() != null) {
            all.add(store.defaultSource());
        }
        Map<List<Path>, Boolean> changed = new HashMap<>();
        for (CertificateSource s : all) {
            List<Path> files = s.files();
            if (files.isEmpty() || changed.containsKey(files)) {
                continue;
            }
            String hash = hash(files);
            String last = seen.put(files, hash);
            changed.put(files, last != null && !last.equals(hash));
        }
        Map<CertificateSource, CertificateSource> replaced = new IdentityHashMap<>();
        Map<CertificateSource, SslContext> contexts = new IdentityHashMap<>(store.contexts());
        Map<List<Path>, String> failed = new HashMap<>();
        for (CertificateSource s : all) {
            if (!Boolean.TRUE.equals(changed.get(s.files())) || replaced.containsKey(s)
                    || failed.containsKey(s.files())) {
                continue;
            }
            try {
                CertificateSource next = s.reload().load();
                if (s != store.defaultSource() && next.domains().isEmpty()) {
                    throw new IllegalArgumentException(next.description() + ": the new certificate has no domains"
                            + " (expected: a certificate with DNS names)");
                }
                contexts.put(next, CertificateStore.serverContext(next));
                replaced.put(s, next);
            } catch (IllegalArgumentException e) {
                failed.put(s.files(), e.getMessage());
            }
        }
        failed.forEach((files, reason) -> log.warn("certificate files {} changed but cannot be used; the "
                + "certificate loaded before stays in use until they change again: {}", files, reason));
        if (replaced.isEmpty()) {
            return;
        }
        List<CertificateSource> sources = store.sources().stream().map(s -> replaced.getOrDefault(s, s)).toList();
        CertificateSource def = store.defaultSource() == null ? null
                : replaced.getOrDefault(store.defaultSource(), store.defaultSource());
        target.apply(CertificateStore.of(sources, def, contexts), "files changed");
    }

    /** SHA-256 of the files' content, in order; an unreadable file hashes as its error. */
    static String hash(List<Path> files) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        for (Path f : files) {
            byte[] content;
            try {
                content = Files.readAllBytes(f);
            } catch (IOException e) {
                content = ("unreadable: " + e).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }
            digest.update(ByteBuffer.allocate(8).putLong(content.length).array());
            digest.update(content);
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
