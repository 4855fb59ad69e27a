package dev.smartproxy.internal.tls;

import dev.smartproxy.config.CertificateInfo;
import dev.smartproxy.config.CertificateSource;
import dev.smartproxy.testing.LogCapture;
import dev.smartproxy.testing.TestPki;
import io.netty.handler.ssl.SslContext;
import io.netty.pkitesting.X509Bundle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The watcher's poll, one at a time (no thread, no timing): what counts as a change, what is
 * reloaded, what is ignored and logged, and what the store keeps.
 */
class CertificateWatcherTest {
    private static final TestPki PKI = TestPki.shared();
    private static final char[] PASSWORD = "changeit".toCharArray();

    @TempDir
    Path dir;

    /** The certificates in use, and every store applied. */
    private static final class Holder implements CertificateWatcher.Target {
        CertificateStore store;
        final List<String> causes = new ArrayList<>();

        Holder(CertificateStore store) {
            this.store = store;
        }

        @Override
        public CertificateStore current() {
            return store;
        }

        @Override
        public void apply(CertificateStore next, String cause) {
            store = next;
            causes.add(cause);
        }

        BigInteger serial(int i) {
            return new BigInteger(store.infos().get(i).serial(), 16);
        }
    }

    private CertificateWatcher watcher(Holder h) {
        return new CertificateWatcher(Duration.ofSeconds(1), new Object(), h);
    }

    @Test
    void aHalfWrittenPairIsLoggedOnceAndIgnoredThenTheCompletedPairIsLoaded() throws Exception {
        X509Bundle a = PKI.issue("w.test");
        X509Bundle b = PKI.issue("w.test");
        Path crt = Files.writeString(dir.resolve("w.crt"), a.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("w.key"), a.getPrivateKeyPEM());
        CertificateSource source = CertificateSource.pemFiles(crt, key).domains("w.test", "other.test");
        CertificateSource text = TestPki.certificate("text.test");
        Holder h = new Holder(CertificateStore.of(List.of(source, text), null));
        SslContext textContext = h.store.contexts().get(text);
        CertificateWatcher w = watcher(h);

        w.poll();
        w.poll();
        assertThat(h.causes).as("unchanged files: nothing applied").isEmpty();

        try (LogCapture log = LogCapture.start()) {
            Files.writeString(crt, b.getCertificatePathPEM()); // the key is not written yet
            w.poll();
            assertThat(h.causes).isEmpty();
            assertThat(h.serial(0)).isEqualTo(a.getCertificate().getSerialNumber());
            assertThat(log.lines("WARN", crt.toString(), "does not match")).hasSize(1);
            w.poll();
            assertThat(log.lines("WARN")).as("tried again only on the next change").hasSize(1);

            Files.writeString(key, b.getPrivateKeyPEM());
            w.poll();
        }
        assertThat(h.causes).containsExactly("files changed");
        assertThat(h.serial(0)).isEqualTo(b.getCertificate().getSerialNumber());
        CertificateSource reloaded = h.store.sources().get(0);
        assertThat(reloaded).isNotSameAs(source);
        assertThat(reloaded.domains()).as("the domains given are kept").containsExactly("w.test", "other.test");
        assertThat(h.store.select("other.test")).isSameAs(h.store.contexts().get(reloaded));
        assertThat(h.store.sources().get(1)).as("a text source is not watched").isSameAs(text);
        assertThat(h.store.contexts().get(text)).as("an unchanged certificate keeps its context").isSameAs(textContext);
    }

    @Test
    void aKeyStoreUsedAsTheDefaultCertificateIsReloadedAndACorruptOneIgnored() throws Exception {
        X509Bundle a = PKI.issue("ks.test");
        X509Bundle b = PKI.issue("ks.test");
        Path p12 = keyStore(a, "ks.p12");
        CertificateSource def = CertificateSource.keyStore(p12, PASSWORD.clone());
        Holder h = new Holder(CertificateStore.of(List.of(), def));
        CertificateWatcher w = watcher(h);
        w.poll();

        keyStore(b, "ks.p12");
        w.poll();
        assertThat(h.causes).hasSize(1);
        assertThat(h.store.defaultSource()).isNotSameAs(def);
        CertificateInfo info = h.store.infos().get(0);
        assertThat(info.isDefault()).isTrue();
        assertThat(new BigInteger(info.serial(), 16)).isEqualTo(b.getCertificate().getSerialNumber());

        try (LogCapture log = LogCapture.start()) {
            Files.write(p12, new byte[] {1, 2, 3});
            w.poll();
            assertThat(h.causes).hasSize(1);
            assertThat(log.lines("WARN", p12.toString(), "cannot be used")).hasSize(1);
            assertThat(log.lines("\tat ")).as("no stack trace").isEmpty();
        }
    }

    @Test
    void aFileThatVanishesIsLoggedAndTheCertificateStays() throws Exception {
        X509Bundle a = PKI.issue("gone.test");
        Path crt = Files.writeString(dir.resolve("g.crt"), a.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("g.key"), a.getPrivateKeyPEM());
        Holder h = new Holder(CertificateStore.of(List.of(CertificateSource.pemFiles(crt, key)), null));
        CertificateWatcher w = watcher(h);
        w.poll();
        Files.delete(key);
        try (LogCapture log = LogCapture.start()) {
            w.poll();
            assertThat(log.lines("WARN", key.toString(), "no such file")).hasSize(1);
        }
        assertThat(h.causes).isEmpty();
        Files.writeString(key, a.getPrivateKeyPEM());
        w.poll();
        assertThat(h.causes).as("back: loaded again").hasSize(1);
        assertThat(h.serial(0)).isEqualTo(a.getCertificate().getSerialNumber());
    }

    @Test
    void contentHashesSeeContentNotTimes() throws Exception {
        Path f = Files.writeString(dir.resolve("f"), "one");
        String first = CertificateWatcher.hash(List.of(f));
        Files.setLastModifiedTime(f, java.nio.file.attribute.FileTime.fromMillis(0));
        assertThat(CertificateWatcher.hash(List.of(f))).isEqualTo(first);
        Files.writeString(f, "two");
        Files.setLastModifiedTime(f, java.nio.file.attribute.FileTime.fromMillis(0));
        assertThat(CertificateWatcher.hash(List.of(f))).isNotEqualTo(first);
        assertThat(CertificateWatcher.hash(List.of(dir.resolve("missing")))).isNotEqualTo(first);
    }

    /** What {@code updateCertificates} does under the lock: hash, load, put in use, record. */
    private static void update(CertificateWatcher w, Holder h, CertificateSource source) {
        var hashes = CertificateWatcher.hashes(List.of(source), null);
        h.store = CertificateStore.of(List.of(source), null, h.store.contexts());
        w.applied(hashes);
    }

    @Test
    void filesBroughtInByAnUpdateAreWatchedFromTheContentItLoaded() throws Exception {
        X509Bundle a = PKI.issue("old.test");
        X509Bundle b = PKI.issue("new.test");
        X509Bundle c = PKI.issue("new.test");
        Path oldCrt = Files.writeString(dir.resolve("old.crt"), a.getCertificatePathPEM());
        Path oldKey = Files.writeString(dir.resolve("old.key"), a.getPrivateKeyPEM());
        Holder h = new Holder(CertificateStore.of(List.of(CertificateSource.pemFiles(oldCrt, oldKey)), null));
        CertificateWatcher w = watcher(h);
        w.poll();

        Path crt = Files.writeString(dir.resolve("new.crt"), b.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("new.key"), b.getPrivateKeyPEM());
        update(w, h, CertificateSource.pemFiles(crt, key));
        // Changed before the next poll: reloaded by it, not taken as their first sight.
        Files.writeString(crt, c.getCertificatePathPEM());
        Files.writeString(key, c.getPrivateKeyPEM());
        w.poll();
        assertThat(h.causes).containsExactly("files changed");
        assertThat(h.serial(0)).isEqualTo(c.getCertificate().getSerialNumber());
    }

    @Test
    void filesAnUpdateJustLoadedAreNotReloadedByTheNextPoll() throws Exception {
        X509Bundle a = PKI.issue("same.test");
        X509Bundle b = PKI.issue("same.test");
        Path crt = Files.writeString(dir.resolve("same.crt"), a.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("same.key"), a.getPrivateKeyPEM());
        Holder h = new Holder(CertificateStore.of(List.of(CertificateSource.pemFiles(crt, key)), null));
        CertificateWatcher w = watcher(h);
        w.poll();
        Files.writeString(crt, b.getCertificatePathPEM());
        Files.writeString(key, b.getPrivateKeyPEM());
        update(w, h, CertificateSource.pemFiles(crt, key));
        CertificateStore updated = h.store;
        w.poll();
        assertThat(h.causes).as("the update loaded these very files").isEmpty();
        assertThat(h.store).isSameAs(updated);
    }

    @Test
    void closeLetsAPollUnderWayEndWithoutAnInterrupt() throws Exception {
        X509Bundle a = PKI.issue("close.test");
        Path crt = Files.writeString(dir.resolve("close.crt"), a.getCertificatePathPEM());
        Path key = Files.writeString(dir.resolve("close.key"), a.getPrivateKeyPEM());
        CertificateStore store = CertificateStore.of(List.of(CertificateSource.pemFiles(crt, key)), null);
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<String> seenByPoll = new java.util.concurrent.atomic.AtomicReference<>();
        CertificateWatcher w = new CertificateWatcher(Duration.ofMillis(5), new Object(), new CertificateWatcher.Target() {
            @Override
            public CertificateStore current() {
                if (Thread.currentThread().getName().equals("smartproxy-certificate-watch")
                        && entered.getCount() > 0) {
                    entered.countDown();
                    try {
                        release.await();
                        seenByPoll.set(Thread.currentThread().isInterrupted() ? "interrupted" : "not interrupted");
                    } catch (InterruptedException e) {
                        seenByPoll.set("interrupted");
                        Thread.currentThread().interrupt();
                    }
                }
                return store;
            }

            @Override
            public void apply(CertificateStore next, String cause) {
            }
        });
        w.start();
        assertThat(entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        Thread closer = new Thread(w::close, "closer");
        closer.start();
        dev.smartproxy.testing.Await.until("close waiting for the poll under way",
                () -> closer.getState() == Thread.State.TIMED_WAITING || seenByPoll.get() != null);
        release.countDown();
        closer.join(10_000);
        assertThat(closer.isAlive()).isFalse();
        assertThat(seenByPoll.get()).isEqualTo("not interrupted");
    }

    private Path keyStore(X509Bundle bundle, String fileName) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", bundle.getKeyPair().getPrivate(), PASSWORD, bundle.getCertificatePath());
        Path p = dir.resolve(fileName);
        try (OutputStream out = Files.newOutputStream(p)) {
            ks.store(out, PASSWORD);
        }
        return p;
    }
}
