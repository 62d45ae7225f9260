package dev.parley.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A minimal RFC 6455 client over a plain TCP socket, for what a well-behaved client library will not
 * do: stay silent on pings (a dead peer), send a frame over the size limit, or drop the TCP connection
 * without a close handshake. Text frames go to the native-protocol inbox; a close frame's code is
 * reported through {@link #closed()}.
 */
public final class RawWsClient extends TestClient {

  private NetSocket socket;
  private Buffer pending = Buffer.buffer();
  private boolean handshakeDone;
  private boolean answerPings = true;
  private int pings;

  private RawWsClient(Vertx vertx) {
    super(vertx);
  }

  /** Connects to {@code /ws} and waits for {@code welcome}. */
  public static Future<RawWsClient> connect(Vertx vertx, int port) {
    RawWsClient c = new RawWsClient(vertx);
    Promise<Void> upgraded = Promise.promise();
    return vertx.createNetClient().connect(port, "127.0.0.1").compose(socket -> {
      c.socket = socket;
      String key = Base64.getEncoder().encodeToString(new byte[16]);
      socket.handler(data -> c.onData(data, upgraded));
      socket.closeHandler(v -> c.ended(-1));
      socket.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n");
      return upgraded.future();
    }).compose(v -> c.expect("welcome")).map(c);
  }

  /** From now on, pings get no pong: the client looks dead to the server's heartbeat. */
  public RawWsClient silent() {
    answerPings = false;
    return this;
  }

  /** Pings received so far. */
  public int pings() {
    return pings;
  }

  /** Closes the TCP connection without any WebSocket close frame. */
  public void drop() {
    socket.close();
  }

  @Override
  public void sendText(String text) {
    sendFrame(0x1, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Sends one final frame of an arbitrary opcode and payload, masked as a client must. */
  public void sendFrame(int opcode, byte[] payload) {
    sendFrameRaw(true, opcode, payload);
  }

  /** Sends one frame, final or a fragment, masked as a client must. */
  public void sendFrameRaw(boolean fin, int opcode, byte[] payload) {
    Buffer frame = Buffer.buffer().appendByte((byte) ((fin ? 0x80 : 0) | opcode));
    int len = payload.length;
    if (len < 126) {
      frame.appendByte((byte) (0x80 | len));
    } else if (len < 65_536) {
      frame.appendByte((byte) (0x80 | 126)).appendShort((short) len);
    } else {
      frame.appendByte((byte) (0x80 | 127)).appendLong(len);
    }
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    frame.appendBytes(mask);
    byte[] masked = new byte[len];
    for (int i = 0; i < len; i++) {
      masked[i] = (byte) (payload[i] ^ mask[i & 3]);
    }
    socket.write(frame.appendBytes(masked));
  }

  @Override
  public void close() {
    sendFrame(0x8, new byte[] {0x03, (byte) 0xe8});
  }

  @Override
  public void cut() {
    socket.close();
  }

  private void onData(Buffer data, Promise<Void> upgraded) {
    pending.appendBuffer(data);
    if (!handshakeDone) {
      String head = pending.toString(StandardCharsets.ISO_8859_1);
      int end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        return;
      }
      if (!head.startsWith("HTTP/1.1 101")) {
        upgraded.tryFail(new IllegalStateException("handshake refused: " + head.substring(0, head.indexOf("\r\n"))));
        return;
      }
      handshakeDone = true;
      pending = pending.getBuffer(end + 4, pending.length());
      upgraded.complete();
    }
    while (pending.length() >= 2) {
      int b0 = pending.getUnsignedByte(0);
      int b1 = pending.getUnsignedByte(1);
      int opcode = b0 & 0x0f;
      long len = b1 & 0x7f;
      int at = 2;
      if (len == 126) {
        if (pending.length() < 4) {
          return;
        }
        len = pending.getUnsignedShort(2);
        at = 4;
      } else if (len == 127) {
        if (pending.length() < 10) {
          return;
        }
        len = pending.getLong(2);
        at = 10;
      }
      if (pending.length() < at + len) {
        return;
      }
      Buffer payload = pending.getBuffer(at, at + (int) len);
      pending = pending.getBuffer(at + (int) len, pending.length());
      switch (opcode) {
        case 0x1 -> received(payload.toString(StandardCharsets.UTF_8));
        case 0x9 -> {
          pings++;
          if (answerPings) {
            sendFrame(0xA, payload.getBytes());
          }
        }
        case 0x8 -> ended(payload.length() >= 2 ? payload.getUnsignedShort(0) : 1005);
        default -> {
        }
      }
    }
  }
}
