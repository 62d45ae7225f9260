package dev.parley.transport.sockjs;

import dev.parley.config.ParleyConfig;
import dev.parley.core.CloseCode;
import dev.parley.core.Hub;
import dev.parley.core.Json;
import dev.parley.transport.NativeConnection;
import dev.parley.transport.OutboundMemory;
import io.vertx.core.Context;
import io.vertx.ext.web.handler.sockjs.SockJSSocket;

/** One client of {@code /sockjs}: the native protocol, one JSON object per SockJS message. */
final class SockJsConnection extends NativeConnection {

  private final SockJSSocket socket;
  private final io.vertx.core.Vertx vertx;

  SockJsConnection(Hub hub, ParleyConfig config, Context context, OutboundMemory memory, SockJSSocket socket,
                   Runnable onEnd) {
    super(hub, config, context, memory);
    this.socket = socket;
    this.vertx = context.owner();
    socket.setWriteQueueMaxSize(config.limits().outboundQueueBytes());
    int maxFrame = config.limits().maxFrameBytes();
    socket.handler(data -> {
      if (data.length() > maxFrame) {
        close(CloseCode.TOO_BIG, "message larger than limits.maxFrameBytes");
      } else {
        onText(data.toString());
      }
    });
    socket.closeHandler(v -> {
      ended();
      onEnd.run();
    });
    open(socket.headers() == null ? null : socket.headers().get("Authorization"));
  }

  /** Counted until SockJS reports the frame written (see {@link SockJsTransport#backlog}). */
  @Override
  protected void write(String frame) {
    outbound().track(frame.length(), socket.write(frame));
  }

  @Override
  protected long transportBacklog() {
    return SockJsTransport.backlog(socket, config.limits().outboundQueueBytes());
  }

  /**
   * SockJS cannot carry a close code here (vertx-web always sends {@code c[3000,"Go away!"]}), so the
   * last frame before the close says why: {@code {"type":"close","code":1009,"reason":"..."}}.
   */
  @Override
  protected void closeTransport(CloseCode code, String reason) {
    // On polling transports a frame written with no request attached waits for the next poll, and closing
    // at once would drop it: close once the notice is out, or after the session timeout at the latest.
    boolean[] done = {false};
    Runnable closeNow = () -> {
      if (!done[0]) {
        done[0] = true;
        socket.close(code.code(), reason);
      }
    };
    long timer = vertx.setTimer(config.sockjs().sessionTimeoutMs(), t -> closeNow.run());
    socket.write(closeNotice(code, reason)).onComplete(ar -> {
      vertx.cancelTimer(timer);
      closeNow.run();
    });
  }

  static String closeNotice(CloseCode code, String reason) {
    return Json.MAPPER.createObjectNode().put("type", "close").put("code", code.code()).put("reason", reason).toString();
  }

  @Override
  public String address() {
    return socket.remoteAddress() == null ? null : socket.remoteAddress().hostAddress();
  }

  @Override
  public String transport() {
    return "sockjs";
  }
}
