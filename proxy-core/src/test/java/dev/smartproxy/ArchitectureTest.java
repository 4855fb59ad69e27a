package dev.smartproxy;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layering DESIGN.md promises, as tests that fail when a change breaks it:
 * <ul>
 *   <li>no package depends on itself in a cycle, public or internal;</li>
 *   <li>the public packages stack {@code config <- event <- route <- the facade}, with
 *       {@code metrics} beside {@code event} (it may use {@code config} and {@code event}), and of the
 *       internals they import only {@code internal.util};</li>
 *   <li>the terminated branch ({@code internal.http}, {@code internal.websocket}) never reaches
 *       back into the accept path ({@code internal.pipeline});</li>
 *   <li>no main source file passes 600 lines without a comment, starting "Over 600 lines", saying why.</li>
 * </ul>
 * The facade ({@code dev.smartproxy.SmartProxy}) included: it reaches its runtime through
 * {@code internal.util.engine.ProxyEngine}, which {@code internal.pipeline} provides.
 */
class ArchitectureTest {
    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.smartproxy");
    }

    @Test
    void noPackageCycles() {
        slices().matching("dev.smartproxy.(**)").should().beFreeOfCycles().check(main);
    }

    @Test
    void publicPackagesImportNoInternalsButUtil() {
        noClasses().that().resideInAnyPackage("dev.smartproxy", "dev.smartproxy.config..", "dev.smartproxy.event..",
                        "dev.smartproxy.metrics..", "dev.smartproxy.route..")
                .should().dependOnClassesThat(com.tngtech.archunit.base.DescribedPredicate.describe(
                        "are internal, outside internal.util",
                        c -> c.getPackageName().startsWith("dev.smartproxy.internal")
                                && !c.getPackageName().startsWith("dev.smartproxy.internal.util")))
                .because("DESIGN.md: public code imports from internal only internal/util")
                .check(main);
    }

    @Test
    void publicPackagesStackConfigEventRouteFacade() {
        noClasses().that().resideInAPackage("dev.smartproxy.config..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.smartproxy.event..", "dev.smartproxy.metrics..",
                        "dev.smartproxy.route..")
                .check(main);
        noClasses().that().resideInAPackage("dev.smartproxy.event..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.smartproxy.metrics..", "dev.smartproxy.route..")
                .check(main);
        // metrics sits beside event: it may use config and event, nothing above them
        noClasses().that().resideInAPackage("dev.smartproxy.metrics..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.smartproxy.route..")
                .check(main);
        noClasses().that().resideInAnyPackage("dev.smartproxy.config..", "dev.smartproxy.event..",
                        "dev.smartproxy.metrics..", "dev.smartproxy.route..", "dev.smartproxy.internal..")
                .should().dependOnClassesThat().haveFullyQualifiedName("dev.smartproxy.SmartProxy")
                .check(main);
    }

    @Test
    void theTerminatedBranchNeverImportsTheAcceptPath() {
        noClasses().that().resideInAnyPackage("dev.smartproxy.internal.http..", "dev.smartproxy.internal.websocket..")
                .should().dependOnClassesThat().resideInAPackage("dev.smartproxy.internal.pipeline..")
                .check(main);
    }

    @Test
    void noMainSourceFileOver600LinesWithoutSayingWhy() throws IOException {
        Path root = Path.of("src/main/java");
        List<String> tooLong;
        try (Stream<Path> files = Files.walk(root)) {
            tooLong = files.filter(p -> p.toString().endsWith(".java")).filter(p -> {
                try {
                    List<String> lines = Files.readAllLines(p);
                    return lines.size() > 600 && lines.stream().map(String::strip)
                            .noneMatch(l -> (l.startsWith("//") || l.startsWith("*"))
                                    && l.toLowerCase(java.util.Locale.ROOT).contains("over 600 lines"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(p -> root.relativize(p) + "").sorted().toList();
        }
        assertThat(tooLong).as("main source files over 600 lines with no comment saying why ('Over 600 lines ...')")
                .isEmpty();
    }
}
