package dev.parley.config;

/**
 * A configuration value that Parley cannot start with. The message always names the offending key
 * (for example {@code http.port}) or file, so start-up fails with something a user can act on.
 */
public final class ConfigException extends RuntimeException {

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
