package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonArray;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The SockJS HTTP transports over a real keep-alive HTTP client: xhr polling and streaming,
 * eventsource, htmlfile and jsonp polling; messages go up with {@code xhr_send} ({@code jsonp_send}
 * for jsonp), one at a time so they arrive in order.
 */
public final class SockJsXhrClient extends TestClient {

  private final HttpClient http;
  private final int port;
  private final String base;
  private final Mode mode;
  private boolean ended;
  private boolean paused;
  private io.vertx.core.http.HttpClientResponse streamResponse;
  private Future<Void> sends = Future.succeededFuture();

  /** The SockJS HTTP transports: how frames come down, and how messages go up. */
  public enum Mode {
    XHR_POLLING("xhr", "POST"), XHR_STREAMING("xhr_streaming", "POST"), EVENTSOURCE("eventsource", "GET"),
    HTMLFILE("htmlfile?c=cb", "GET"), JSONP_POLLING("jsonp?c=cb", "GET");

    final String path;
    final String method;

    Mode(String path, String method) {
      this.path = path;
      this.method = method;
    }
  }

  private SockJsXhrClient(Vertx vertx, int port, Mode mode) {
    super(vertx);
    this.http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(4));
    this.port = port;
    this.mode = mode;
    this.base = "/sockjs/000/" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** The session's path, {@code /sockjs/000/<session>}. */
  public String base() {
    return base;
  }

  /** xhr-polling; completes after the {@code welcome} frame. */
  public static Future<SockJsXhrClient> polling(Vertx vertx, int port) {
    return connect(vertx, port, Mode.XHR_POLLING);
  }

  /** xhr-streaming; completes after the {@code welcome} frame. */
  public static Future<SockJsXhrClient> streaming(Vertx vertx, int port) {
    return connect(vertx, port, Mode.XHR_STREAMING);
  }

  /** Each HTTP request to the next of {@code ports} in turn (a load balancer without affinity). */
  private int[] ports;
  private int turn;

  private int port() {
    return ports == null ? port : ports[turn++ % ports.length];
  }

  /**
   * Any SockJS HTTP transport with each HTTP request sent to the next of {@code ports} in turn, as a
   * round-robin load balancer without session affinity would; completes after the {@code welcome} frame.
   */
  public static Future<SockJsXhrClient> roundRobin(Vertx vertx, Mode mode, int... ports) {
    SockJsXhrClient c = new SockJsXhrClient(vertx, ports[0], mode);
    c.ports = ports;
    return c.start().compose(v -> c.expect("welcome")).map(c);
  }

  /** Any SockJS HTTP transport; completes after the {@code welcome} frame. */
  public static Future<SockJsXhrClient> connect(Vertx vertx, int port, Mode mode) {
    SockJsXhrClient c = new SockJsXhrClient(vertx, port, mode);
    return c.start().compose(v -> c.expect("welcome")).map(c);
  }

  private Future<Void> start() {
    Promise<Void> opened = Promise.promise();
    if (mode == Mode.XHR_POLLING || mode == Mode.JSONP_POLLING) {
      poll(opened);
    } else {
      stream(opened);
    }
    return opened.future();
  }

  private void poll(Promise<Void> opened) {
    http.request(HttpMethod.valueOf(mode.method), port(), "127.0.0.1", base + "/" + mode.path)
      .compose(req -> req.send())
      .compose(resp -> resp.body())
      .onSuccess(body -> {
        for (String frame : frames(body.toString())) {
          SockJsFrames.decode(frame, opened::tryComplete, this::received, this::closedWith);
        }
        if (!ended && !paused) {
          poll(opened);
        }
      })
      .onFailure(err -> {
        opened.tryFail(err);
        closedWith(-1);
      });
  }

  /**
   * Cuts a transport's response text into SockJS frames: one per line (xhr), {@code data: } events
   * (eventsource), {@code p("...")} script calls (htmlfile), {@code cb("...")} calls (jsonp).
   */
  private List<String> frames(String text) {
    List<String> out = new ArrayList<>();
    switch (mode) {
      case XHR_POLLING, XHR_STREAMING -> {
        for (String line : text.split("\n")) {
          if (!line.isEmpty() && !(line.length() > 1 && line.chars().allMatch(ch -> ch == 'h'))) {
            out.add(line);
          }
        }
      }
      case EVENTSOURCE -> {
        Matcher m = Pattern.compile("data: ([^\r\n]*)\r\n\r\n").matcher(text);
        while (m.find()) {
          out.add(m.group(1));
        }
      }
      case HTMLFILE, JSONP_POLLING -> {
        Matcher m = Pattern.compile(mode == Mode.HTMLFILE ? "p\\((\".*?\")\\);" : "cb\\((\".*?\")\\);").matcher(text);
        while (m.find()) {
          out.add(new JsonArray("[" + m.group(1) + "]").getString(0));
        }
      }
    }
    return out;
  }

  /** Bytes of a streaming response not yet cut into frames. */
  private int consumed(String text) {
    return switch (mode) {
      case XHR_STREAMING -> text.lastIndexOf('\n') + 1;
      case EVENTSOURCE -> text.lastIndexOf("\r\n\r\n") < 0 ? 0 : text.lastIndexOf("\r\n\r\n") + 4;
      default -> text.lastIndexOf("</script>") < 0 ? 0 : text.lastIndexOf("</script>") + "</script>".length();
    };
  }

  private void stream(Promise<Void> opened) {
    StringBuilder pending = new StringBuilder();
    http.request(HttpMethod.valueOf(mode.method), port(), "127.0.0.1", base + "/" + mode.path)
      .compose(req -> req.send())
      .onSuccess(resp -> {
        streamResponse = resp;
        if (paused) {
          resp.pause();
        }
        resp.handler(chunk -> {
          pending.append(chunk.toString());
          int upTo = consumed(pending.toString());
          if (upTo > 0) {
            String complete = pending.substring(0, upTo);
            pending.delete(0, upTo);
            for (String frame : frames(complete)) {
              SockJsFrames.decode(frame, opened::tryComplete, this::received, this::closedWith);
            }
          }
        });
        resp.endHandler(v -> {
          if (!ended && !paused) {
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
    boolean jsonp = mode == Mode.JSONP_POLLING;
    String body = jsonp ? "d=" + URLEncoder.encode(SockJsFrames.encode(text), StandardCharsets.UTF_8) : SockJsFrames.encode(text);
    sends = sends.eventually(() -> http.request(HttpMethod.POST, port(), "127.0.0.1", base + (jsonp ? "/jsonp_send" : "/xhr_send"))
      .compose(req -> req.putHeader("Content-Type", jsonp ? "application/x-www-form-urlencoded" : "text/plain").send(Buffer.buffer(body)))
      .map(resp -> {
        if (resp.statusCode() != (jsonp ? 200 : 204)) {
          throw new IllegalStateException("xhr_send answered " + resp.statusCode());
        }
        return null;
      }));
  }

  /** Polling transports stop polling; streaming ones stop reading their response. */
  @Override
  public void pauseReading() {
    vertx.runOnContext(v -> {
      paused = true;
      if (streamResponse != null) {
        streamResponse.pause();
      }
    });
  }

  @Override
  public void resumeReading() {
    vertx.runOnContext(v -> {
      paused = false;
      if (streamResponse != null) {
        streamResponse.resume();
      }
      if (mode == Mode.XHR_POLLING || mode == Mode.JSONP_POLLING) {
        poll(io.vertx.core.Promise.promise());
      }
    });
  }

  @Override
  public void close() {
    ended = true;
    http.close();
  }

  /** No more polls or sends; the request in flight (a poll, or the streaming response) is dropped with its TCP connection. */
  @Override
  public void cut() {
    close();
  }
}
