package dev.parley.transport.sockjs;

import io.vertx.ext.web.handler.sockjs.SockJSSocket;

/**
 * The bounded outbound queue of one SockJS socket. SockJS keeps its own queue only while no transport
 * request is attached (polling); on streaming and WebSocket transports written frames pile up below it
 * instead. So bytes are counted from {@code write} until the transport reports them written, and the
 * queue is full when either count reaches the limit.
 */
public final class SockJsOutbound {

  private final SockJSSocket socket;
  private final int limit;
  private long inFlight;

  public SockJsOutbound(SockJSSocket socket, int limit) {
    this.socket = socket;
    this.limit = limit;
    socket.setWriteQueueMaxSize(limit);
  }

  /** Characters written and not yet reported sent by the transport. */
  public long backlog() {
    return inFlight;
  }

  public boolean full() {
    return inFlight >= limit || socket.writeQueueFull();
  }

  public void write(String frame) {
    int size = frame.length();
    inFlight += size;
    socket.write(frame).onComplete(ar -> inFlight -= size);
  }
}
