package dev.parley.transport.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.core.Json;
import io.vertx.core.buffer.Buffer;

import java.util.List;

/**
 * One Socket.IO v5 packet: {@code <type>[<attachments>-][<nsp>,][<ackId>][<json>]}, the namespace left
 * out when it is {@code /}. Binary packets (5, 6) are followed by their attachments as separate binary
 * messages, referenced in the JSON by {@code {"_placeholder":true,"num":i}}.
 */
record SioPacket(int type, String nsp, Long ackId, JsonNode data, int attachmentCount, List<Buffer> attachments) {

  static final int CONNECT = 0;
  static final int DISCONNECT = 1;
  static final int EVENT = 2;
  static final int ACK = 3;
  static final int CONNECT_ERROR = 4;
  static final int BINARY_EVENT = 5;
  static final int BINARY_ACK = 6;

  /** Thrown for a packet that breaks the format; the connection is then closed. */
  static final class Malformed extends Exception {
    Malformed(String message) {
      super(message, null, false, false);
    }
  }

  SioPacket withAttachments(List<Buffer> buffers) {
    return new SioPacket(type, nsp, ackId, data, attachmentCount, List.copyOf(buffers));
  }

  static SioPacket decode(String text) throws Malformed {
    if (text.isEmpty()) {
      throw new Malformed("empty packet");
    }
    int type = text.charAt(0) - '0';
    if (type < CONNECT || type > BINARY_ACK) {
      throw new Malformed("unknown packet type");
    }
    int i = 1;
    int attachments = 0;
    if (type == BINARY_EVENT || type == BINARY_ACK) {
      int dash = text.indexOf('-', i);
      if (dash < 0) {
        throw new Malformed("binary packet without attachment count");
      }
      try {
        attachments = Integer.parseInt(text.substring(i, dash));
      } catch (NumberFormatException e) {
        throw new Malformed("bad attachment count");
      }
      if (attachments < 0 || attachments > 64) {
        throw new Malformed("too many attachments");
      }
      i = dash + 1;
    }
    String nsp = "/";
    if (i < text.length() && text.charAt(i) == '/') {
      int comma = text.indexOf(',', i);
      if (comma < 0) {
        nsp = text.substring(i);
        i = text.length();
      } else {
        nsp = text.substring(i, comma);
        i = comma + 1;
      }
    }
    Long ackId = null;
    int start = i;
    while (i < text.length() && Character.isDigit(text.charAt(i))) {
      i++;
    }
    if (i > start) {
      if (i - start > 18) {
        throw new Malformed("ack id too long");
      }
      ackId = Long.parseLong(text.substring(start, i));
    }
    JsonNode data = null;
    if (i < text.length()) {
      try {
        data = Json.MAPPER.readTree(text.substring(i));
      } catch (Exception e) {
        throw new Malformed("payload is not JSON");
      }
    }
    SioPacket p = new SioPacket(type, nsp, ackId, data, attachments, List.of());
    p.validate();
    return p;
  }

  private void validate() throws Malformed {
    switch (type) {
      case CONNECT -> {
        if (data != null && !data.isObject()) {
          throw new Malformed("CONNECT payload must be an object");
        }
      }
      case DISCONNECT -> {
        if (data != null) {
          throw new Malformed("DISCONNECT has no payload");
        }
      }
      case EVENT, BINARY_EVENT -> {
        if (data == null || !data.isArray() || data.isEmpty() || !(data.get(0).isTextual() || data.get(0).isNumber())) {
          throw new Malformed("EVENT payload must be [name, ...args]");
        }
      }
      case ACK, BINARY_ACK -> {
        if (ackId == null || data == null || !data.isArray()) {
          throw new Malformed("ACK needs an id and an array");
        }
      }
      case CONNECT_ERROR -> throw new Malformed("clients do not send CONNECT_ERROR");
      default -> throw new Malformed("unknown packet type");
    }
  }

  /** Encodes a packet for sending (attachments, if any, go as separate binary messages after it). */
  static String encode(int type, String nsp, Long ackId, String json, int attachments) {
    StringBuilder b = new StringBuilder();
    b.append((char) ('0' + type));
    if (type == BINARY_EVENT || type == BINARY_ACK) {
      b.append(attachments).append('-');
    }
    if (nsp != null && !"/".equals(nsp)) {
      b.append(nsp).append(',');
    }
    if (ackId != null) {
      b.append(ackId);
    }
    if (json != null) {
      b.append(json);
    }
    return b.toString();
  }
}
