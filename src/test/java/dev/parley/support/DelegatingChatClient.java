package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.function.Predicate;

/**
 * What the {@link ChatClient} adapters share: reading, pausing and closing go to the {@link TestClient}
 * underneath, whose inbox holds room events in the native protocol's JSON form.
 */
abstract class DelegatingChatClient<C extends TestClient> implements ChatClient {

  protected final C client;

  DelegatingChatClient(C client) {
    this.client = client;
  }

  public C client() {
    return client;
  }

  @Override
  public Future<JsonObject> event(String type, Predicate<JsonObject> match, String what) {
    return client.expect(f -> type.equals(f.getString("type")) && match.test(f), what);
  }

  @Override
  public void pause() {
    client.pauseReading();
  }

  @Override
  public void resume() {
    client.resumeReading();
  }

  /**
   * The close code; where SockJS closed with its fixed 3000, the code of the notice sent just before (a
   * native {@code close} frame, or the bridge's {@code err} frame).
   */
  @Override
  public Future<Integer> closeCode() {
    return client.closed().compose(code -> code != 3000 ? Future.succeededFuture(code)
      : client.expect(f -> ("close".equals(f.getString("type")) || "err".equals(f.getString("type"))) && f.containsKey("code"),
        "close notice", 1000).map(f -> f.getInteger("code")).otherwise(code));
  }

  @Override
  public Future<Void> closed() {
    return client.closed().mapEmpty();
  }

  @Override
  public void close() {
    client.close();
  }

  @Override
  public void cut() {
    client.cut();
  }
}
