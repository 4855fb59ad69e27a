package dev.smartproxy.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bin/smartproxy} starts the jar with the production flags (README, "Running in production"), whatever the user adds. */
class LauncherScriptTest {
    private static final String COMPACT_HEADERS = "-XX:+UseCompactObjectHeaders";

    @Test
    void theLauncherExitsOnOutOfMemoryAndPassesTheArgumentsThrough(@TempDir Path dir) throws Exception {
        List<String> args = launch(dir, false);
        assertThat(args).containsSubsequence("-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch",
                "-XX:+UseSerialGC", "-Dio.netty.leakDetection.level=disabled", "-XX:+ExitOnOutOfMemoryError",
                "-Dx=1", "-jar").contains("passthrough", "--listen", "127.0.0.1:8443")
                .doesNotContain("-XX:TieredStopAtLevel=1") // the JIT's full tiers by default (README)
                .anyMatch(l -> l.endsWith("examples/target/smartproxy-examples.jar"));
    }

    @Test
    void aJvmWithoutCompactObjectHeadersRunsWithoutTheJdk25Flags(@TempDir Path dir) throws Exception {
        assertThat(launch(dir, false)).doesNotContain(COMPACT_HEADERS, "--enable-native-access=ALL-UNNAMED");
    }

    @Test
    void aJvmWithCompactObjectHeadersGetsThemAndNativeAccessBeforeTheUsersFlags(@TempDir Path dir) throws Exception {
        assertThat(launch(dir, true)).containsSubsequence("-XX:+ExitOnOutOfMemoryError", COMPACT_HEADERS,
                "--enable-native-access=ALL-UNNAMED", "-Dx=1", "-jar");
    }

    /**
     * Runs the launcher against a stand-in "java" that prints the command line it was given, and that
     * accepts {@code -XX:+UseCompactObjectHeaders} in the launcher's probe only if {@code compactHeaders}
     * (as JDK 25 does; JDK 17 refuses the unknown flag).
     */
    private static List<String> launch(Path dir, boolean compactHeaders) throws Exception {
        Path fakeJava = dir.resolve("java");
        Files.writeString(fakeJava, "#!/bin/sh\n"
                + "case \"$*\" in *-version*) case \"$*\" in *" + COMPACT_HEADERS + "*) exit " + (compactHeaders ? 0 : 1)
                + ";; esac;; esac\n"
                + "printf '%s\\n' \"$@\"\n", StandardCharsets.US_ASCII);
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
        ProcessBuilder pb = new ProcessBuilder("bash", Path.of("bin/smartproxy").toAbsolutePath().toString(),
                "passthrough", "--listen", "127.0.0.1:8443").redirectErrorStream(true);
        pb.environment().put("PATH", dir + ":" + System.getenv("PATH"));
        pb.environment().put("JAVA_OPTS", "-Dx=1");
        Process p = pb.start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
    }
}
