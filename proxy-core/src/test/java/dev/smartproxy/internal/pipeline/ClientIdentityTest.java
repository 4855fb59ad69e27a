package dev.smartproxy.internal.pipeline;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ClientIdentityTest {
    @Test
    void everySpellingOfASubjectHeaderIsRemovedAndConnectionCannotNameIt() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("X-Client-Subject", "CN=root");
        h.add("x-client-subject", "CN=root2");
        h.add("X_Client_Subject", "CN=root3");
        h.add("X-Other", "kept");
        h.add("Connection", "keep-alive, X-Client-Subject");
        h.add("Connection", "x_client_subject");
        ClientIdentity.removeSubjectHeaders(h, Set.of("x-client-subject"));
        assertThat(h.names()).containsExactlyInAnyOrder("X-Other", "connection");
        assertThat(h.getAll("Connection")).containsExactly("keep-alive");

        HttpHeaders only = new DefaultHttpHeaders().add("Connection", "X-Client-Subject");
        ClientIdentity.removeSubjectHeaders(only, Set.of("x-client-subject"));
        assertThat(only.isEmpty()).isTrue();
    }

    @Test
    void withoutSubjectHeadersNothingChanges() {
        HttpHeaders h = new DefaultHttpHeaders().add("X-Client-Subject", "CN=root");
        ClientIdentity.removeSubjectHeaders(h, Set.of());
        assertThat(h.get("X-Client-Subject")).isEqualTo("CN=root");
    }
}
