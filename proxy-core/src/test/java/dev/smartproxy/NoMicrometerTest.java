package dev.smartproxy;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code proxy-core} stays free of Micrometer (DESIGN.md: optional modules depend on the core,
 * never the reverse): no core class refers to {@code io.micrometer}, and Micrometer is not on the
 * core's class path, so no dependency brings it in (proxy-micrometer binds it from outside).
 */
class NoMicrometerTest {
    @Test
    void noCoreClassRefersToMicrometer() {
        JavaClasses main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.smartproxy");
        noClasses().should().dependOnClassesThat().resideInAnyPackage("io.micrometer..")
                .because("proxy-core never depends on Micrometer; proxy-micrometer binds it").check(main);
    }

    @Test
    void micrometerIsNotOnTheCoreClassPath() {
        assertThatThrownBy(() -> Class.forName("io.micrometer.core.instrument.MeterRegistry"))
                .isInstanceOf(ClassNotFoundException.class);
        assertThatThrownBy(() -> Class.forName("io.micrometer.common.KeyValue"))
                .isInstanceOf(ClassNotFoundException.class);
    }
}
