package dev.smartproxy.metrics;

/** The class of an HTTP status code: its first digit. */
public enum StatusClass {
    /** 1xx. */
    INFORMATIONAL,
    /** 2xx. */
    SUCCESS,
    /** 3xx. */
    REDIRECTION,
    /** 4xx. */
    CLIENT_ERROR,
    /** 5xx. */
    SERVER_ERROR;

    private static final StatusClass[] BY_DIGIT = values();

    /** {@code "1xx"} .. {@code "5xx"}, as conventional in metric tags. */
    public String label() {
        return (ordinal() + 1) + "xx";
    }

    /**
     * The class of {@code status}.
     *
     * @throws IllegalArgumentException if {@code status} is not in 100..599
     */
    public static StatusClass of(int status) {
        if (status < 100 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 100..599)");
        }
        return BY_DIGIT[status / 100 - 1];
    }
}
