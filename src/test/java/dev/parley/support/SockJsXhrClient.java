package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;

import java.util.UUID;

/**
 * The SockJS HTTP transports over a real keep-alive HTTP client: {@code xhr} (polling: one POST per
 * batch of frames) or {@code xhr_streaming} (one long chunked response, a frame per line); messages
 * go up with {@code xhr_send}.
 */
public final class SockJsXhrClient extends TestClient {

  private final HttpClient http;
  private final int port;
  private final String base;
  private final boolean streaming;
  private boolean ended;
  private Future<Void> sends = Future.succeededFuture();

  private SockJsXhrClient(Vertx vertx, int port, boolean streaming) {
    super(vertx);
    this.http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(4));
    this.port = port;
    this.streaming = streaming;
    this.base = "/sockjs/000/" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** xhr-polling; completes after the {@code welcome} frame. */
  public static Future<SockJsXhrClient> polling(Vertx vertx, int port) {
    SockJsXhrClient c = new SockJsXhrClient(vertx, port, false);
    return c.start().compose(v -> c.expect("welcome")).map(c);
  }

  /** xhr-streaming; completes after the {@code welcome} frame. */
  public static Future<SockJsXhrClient> streaming(Vertx vertx, int port) {
    SockJsXhrClient c = new SockJsXhrClient(vertx, port, true);
    return c.start().compose(v -> c.expect("welcome")).map(c);
  }

  private Future<Void> start() {
    Promise<Void> opened = Promise.promise();
    if (streaming) {
      stream(opened);
    } else {
      poll(opened);
    }
    return opened.future();
  }

  private void poll(Promise<Void> opened) {
    http.request(HttpMethod.POST, port, "127.0.0.1", base + "/xhr")
      .compose(req -> req.send())
      .compose(resp -> resp.body())
      .onSuccess(body -> {
        for (String line : body.toString().split("\n")) {
          SockJsFrames.decode(line, opened::tryComplete, this::received, this::closedWith);
        }
        if (!ended) {
          poll(opened);
        }
      })
      .onFailure(err -> {
        opened.tryFail(err);
        closedWith(-1);
      });
  }

  private void stream(Promise<Void> opened) {
    StringBuilder pending = new StringBuilder();
    http.request(HttpMethod.POST, port, "127.0.0.1", base + "/xhr_streaming")
      .compose(req -> req.send())
      .onSuccess(resp -> {
        resp.handler(chunk -> {
          pending.append(chunk.toString());
          int nl;
          while ((nl = pending.indexOf("\n")) >= 0) {
            String line = pending.substring(0, nl);
            pending.delete(0, nl + 1);
            if (!line.chars().allMatch(ch -> ch == 'h') || line.length() < 2) {
              SockJsFrames.decode(line, opened::tryComplete, this::received, this::closedWith);
            }
          }
        });
        resp.endHandler(v -> {
          if (!ended) {
            stream(opened);
          }
        });
      })
      .onFailure(err -> {
        opened.tryFail(err);
        closedWith(-1);
      });
  }

  private void closedWith(int code) {
    ended = true;
    ended(code);
  }

  @Override
  public void sendText(String text) {
    // One xhr_send at a time, so messages arrive in the order sent, as sockjs-client does.
    sends = sends.eventually(() -> http.request(HttpMethod.POST, port, "127.0.0.1", base + "/xhr_send")
      .compose(req -> req.putHeader("Content-Type", "text/plain").send(Buffer.buffer(SockJsFrames.encode(text))))
      .map(resp -> {
        if (resp.statusCode() != 204) {
          throw new IllegalStateException("xhr_send answered " + resp.statusCode());
        }
        return null;
      }));
  }

  @Override
  public void close() {
    ended = true;
    http.close();
  }
}
