package dev.smartproxy.examples;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's code is the code these tests run: its route unit test is {@link RoutingTest}
 * verbatim (less the package line), and every other Java block of the sections checked here
 * appears, line for line, in a test of this module.
 */
class ReadmeTest {
    private static final Path README = Path.of("..", "README.md");
    private static final Path TESTS = Path.of("src", "test", "java", "dev", "smartproxy", "examples");
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);

    @Test
    void theRouteUnitTestIsRoutingTestVerbatim() throws IOException {
        List<String> blocks = javaBlocks("Unit-test your routes, no sockets");
        String source = Files.readString(TESTS.resolve("RoutingTest.java"));
        assertThat(blocks).isNotEmpty();
        assertThat(source).isEqualTo("package dev.smartproxy.examples;\n\n" + blocks.get(0));
    }

    @Test
    void everyOtherBlockIsCompiledAndRunByATest() throws IOException {
        List<String> blocks = new ArrayList<>(javaBlocks("Unit-test your routes, no sockets"));
        blocks.addAll(javaBlocks("Connections, counters and events"));
        blocks.addAll(javaBlocks("Certificate rotation"));
        blocks.addAll(javaBlocks("Metrics and events"));
        blocks.addAll(javaBlocks("Micrometer and Prometheus"));
        blocks.addAll(javaBlocks("Live route updates"));
        assertThat(blocks).hasSizeGreaterThanOrEqualTo(3);
        List<String> sources = new ArrayList<>();
        try (Stream<Path> files = Files.list(TESTS)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                sources.add(normalized(Files.readString(f)));
            }
        }
        for (String block : blocks) {
            String wanted = normalized(block);
            assertThat(sources).as("a test holding the README block:%n%s", block).anyMatch(s -> s.contains(wanted));
        }
    }

    /** The Java blocks of the README section headed {@code ## title}. */
    private static List<String> javaBlocks(String title) throws IOException {
        String readme = Files.readString(README);
        int start = readme.indexOf("\n## " + title + "\n");
        assertThat(start).as("README section '%s'", title).isNotNegative();
        int end = readme.indexOf("\n## ", start + 1);
        String section = readme.substring(start, end < 0 ? readme.length() : end);
        List<String> blocks = new ArrayList<>();
        Matcher m = JAVA_BLOCK.matcher(section);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    /** Lines trimmed, blank lines dropped: indentation may differ between a README and a test. */
    private static String normalized(String code) {
        return code.lines().map(String::strip).filter(l -> !l.isEmpty())
                .collect(Collectors.joining("\n", "\n", "\n"));
    }
}
