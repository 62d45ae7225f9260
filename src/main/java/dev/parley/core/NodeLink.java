package dev.parley.core;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;

/**
 * Point-to-point frames between the nodes of a cluster, and a directory of who holds what: what the
 * session relay needs to serve a polling request on whichever node it lands ({@code dev.parley.relay}).
 * Redis: a pub/sub channel per node and keys with an expiry; Hazelcast: an event bus address per node and
 * a map with time to live. A single node has no link ({@link #NONE}).
 *
 * <p>Guarantees every implementation keeps (checked by the broker contract tests): frames from one node to
 * another arrive in the order sent, at most once; the receive handler runs on the context that set it; a
 * claim is atomic across the cluster.
 */
public interface NodeLink {

  /** No other nodes: nothing is ever relayed. */
  NodeLink NONE = new NodeLink() {
    @Override
    public boolean enabled() {
      return false;
    }

    @Override
    public String self() {
      return "";
    }

    @Override
    public Future<Void> send(String node, Buffer frame) {
      return Future.failedFuture(new IllegalStateException("no other nodes"));
    }

    @Override
    public void receive(Handler<Buffer> frames) {
    }

    @Override
    public Future<String> claim(String key, String supersede, long ttlMs) {
      return Future.succeededFuture(self());
    }

    @Override
    public Future<String> holder(String key) {
      return Future.succeededFuture(null);
    }

    @Override
    public void release(String key) {
    }
  };

  /** Whether there are other nodes to reach. */
  boolean enabled();

  /** This node's id, as other nodes address it. */
  String self();

  /**
   * Sends one frame to {@code node}. Fails when it cannot be sent, or, where the link can tell at once
   * (Redis: nobody subscribed), when no node of that id listens.
   */
  Future<Void> send(String node, Buffer frame);

  /**
   * Sends a frame that opens something on {@code node}: fails fast when no node of that id listens (Redis:
   * nobody subscribed; Hazelcast: no registration of its address in the cluster), or when it does not
   * confirm within {@code timeoutMs}. Ordered with {@link #send}.
   */
  default Future<Void> sendConfirmed(String node, Buffer frame, long timeoutMs) {
    return send(node, frame);
  }

  /** Frames sent to this node go to {@code frames}, on the caller's context. Set once, before any send. */
  void receive(Handler<Buffer> frames);

  /**
   * Takes {@code key} for this node for {@code ttlMs} if nobody holds it, this node does (its time is
   * renewed), or {@code supersede} does (a node known to be gone; may be null). Completes with the holder
   * afterwards: this node, or the other that holds it.
   */
  Future<String> claim(String key, String supersede, long ttlMs);

  /** Who holds {@code key}, or null. */
  Future<String> holder(String key);

  /** Gives {@code key} up (best effort). */
  void release(String key);
}
