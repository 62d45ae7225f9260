package dev.parley.core;

/**
 * What a hub reports as it works, for metrics and logs (the node's {@code dev.parley.ops.Metrics} counts
 * it). Called on the hub's event loop, on paths that must stay cheap: one call per fan-out, not per member.
 */
public interface Telemetry {

  /** A connection opened on a transport ({@code ws}, {@code sockjs}, {@code bridge}, {@code socket.io}). */
  void opened(String transport);

  /** A connection ended: the close code the server gave, or 0 when the client (or the network) ended it. */
  void closed(String transport, int code);

  void joined();

  void left();

  void published();

  /** A fan-out wrote an event to {@code count} connections. */
  void delivered(int count);

  /** A command was refused with this error. */
  void refused(ErrorCode code);

  /** A history store operation ({@code append}, {@code top}, {@code since}, {@code before}) took this long. */
  default void history(String op, long nanos, boolean succeeded) {
  }

  Telemetry NONE = new Telemetry() {
    @Override
    public void opened(String transport) {
    }

    @Override
    public void closed(String transport, int code) {
    }

    @Override
    public void joined() {
    }

    @Override
    public void left() {
    }

    @Override
    public void published() {
    }

    @Override
    public void delivered(int count) {
    }

    @Override
    public void refused(ErrorCode code) {
    }
  };
}
