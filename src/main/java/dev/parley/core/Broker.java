package dev.parley.core;

import io.vertx.core.Future;
import io.vertx.core.Handler;

/**
 * How room events reach the other hubs of this node and the other nodes of a cluster.
 *
 * <p>Guarantees every implementation keeps (checked by the broker contract tests):
 * <ul>
 *   <li>delivery is at most once: nothing is stored, a subscriber that is not subscribed yet misses it;</li>
 *   <li>events published by one hub to one room reach each subscriber in the order they were published;</li>
 *   <li>the publishing hub receives its own events too and is expected to drop them by
 *       {@link Envelope#origin()};</li>
 *   <li>the handler runs on the context that called {@link #subscribe}, so a hub's state stays confined to
 *       its event loop;</li>
 *   <li>a subscription is per room per hub, never per connection.</li>
 * </ul>
 */
public interface Broker {

  /**
   * Starts delivering the room's events to {@code handler}. The future completes once events published
   * anywhere after that point are guaranteed to arrive, or fails (the hub then answers the join with
   * {@code unavailable}). While the broker is {@link State#DOWN} it completes at once with this node's
   * hubs only, and the broker subscribes again when its link is back: events published on other nodes in
   * between are not delivered (at most once, as always), and {@link #state()} says so.
   */
  Future<Subscription> subscribe(String room, Handler<Envelope> handler);

  /** Fans an event out to every subscriber of its room. Fire and forget; never blocks. */
  void publish(Envelope event);

  /** The cluster-wide presence store that goes with this broker. */
  PresenceStore presence();

  /** Short-lived state every node of this broker can take (connection state recovery). */
  KeptState kept();

  /** The message history that goes with this broker ({@link HistoryStore#OFF} when it keeps none). */
  default HistoryStore history() {
    return HistoryStore.OFF;
  }

  /** Frames to other nodes and a directory of who holds what ({@link NodeLink#NONE} on a single node). */
  default NodeLink link() {
    return NodeLink.NONE;
  }

  /** Whether the broker reaches the other nodes now ({@code /health} reports it). */
  default State state() {
    return State.UP;
  }

  /** A broker's link to the other nodes. */
  enum State {
    /** Events reach every node. */
    UP,
    /** The link is lost (Redis unreachable): events reach this node's hubs only until it is back. */
    DOWN
  }

  /** Releases connections and subscriptions. */
  Future<Void> close();

  /** One hub's interest in one room. */
  interface Subscription {
    Future<Void> unsubscribe();
  }
}
