package dev.parley.transport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.core.ChatEvent;
import dev.parley.core.ChatException;
import dev.parley.core.Json;
import dev.parley.core.Outcome;
import dev.parley.core.Command;
import dev.parley.core.ErrorCode;
import dev.parley.core.StreamPosition;

/**
 * The fields of {@code join} and {@code publish} as every dialect that speaks them as a JSON object reads
 * them (native frames on /ws and SockJS, bridge bodies, Socket.IO {@code join}/{@code publish} events), so a
 * field means the same on every transport.
 */
public final class CommandFields {

  /** Longest accepted client message id and epoch. */
  static final int MAX_ID_LENGTH = 64;
  /** Most messages a joiner may ask for with {@code history}. */
  public static final int MAX_HISTORY = 10_000;

  private CommandFields() {
  }

  /**
   * {@code {"room", "name", "since"?: {"epoch", "offset"}, "history"?: N}}; {@code name} may be left out by a
   * verified user (the token's name is used).
   */
  public static Command.Join join(JsonNode obj) {
    return new Command.Join(string(obj, "room"), optionalString(obj, "name"), since(obj), historyCount(obj));
  }

  /** An optional string field: null when missing, {@code bad_request} when not a string. */
  public static String optionalString(JsonNode obj, String field) {
    JsonNode v = obj == null ? null : obj.get(field);
    return v == null || v.isNull() ? null : string(obj, field);
  }

  /** {@code {"room", "before"?: offset, "limit"?: N}} (the newest 50 by default). */
  public static Command.History history(JsonNode obj) {
    JsonNode before = obj.get("before");
    JsonNode limit = obj.get("limit");
    if (before != null && !before.isNull() && (!before.isIntegralNumber() || !before.canConvertToLong() || before.longValue() < 0)) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "before must be an offset (integer >= 0)");
    }
    if (limit != null && !limit.isNull() && (!limit.isIntegralNumber() || !limit.canConvertToInt())) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "limit must be an integer");
    }
    return new Command.History(string(obj, "room"), before == null || before.isNull() ? 0 : before.longValue(),
      limit == null || limit.isNull() ? DEFAULT_HISTORY_PAGE : limit.intValue());
  }

  /** The answer to a publish on every transport: {@code {"id", "offset"?, "epoch"?}}. */
  public static ObjectNode published(ChatEvent.Message message) {
    ObjectNode answer = Json.MAPPER.createObjectNode().put("id", message.id());
    if (message.offset() != null) {
      answer.put("offset", message.offset()).put("epoch", message.epoch());
    }
    return answer;
  }

  /** The answer to a history command on every transport: {@code {"room", "messages", "epoch", "offset"}}. */
  public static ObjectNode historyPage(Outcome.History page) {
    ObjectNode answer = Json.MAPPER.createObjectNode().put("room", page.room());
    answer.set("messages", Json.MAPPER.valueToTree(page.messages()));
    return answer.put("epoch", page.top().epoch()).put("offset", page.top().offset());
  }

  /** The answer to a token on every transport: {@code {"user", "name", "expiresAt"}} (expiresAt in ms since the epoch). */
  public static ObjectNode authed(dev.parley.core.Identity identity) {
    ObjectNode answer = Json.MAPPER.createObjectNode().put("user", identity.user()).put("name", identity.name());
    if (identity.expiresAtMs() > 0) {
      answer.put("expiresAt", identity.expiresAtMs());
    }
    return answer;
  }

  /** {@code {"token"}} or a bare token string: the token of an {@code auth} command. */
  public static Command.Auth auth(JsonNode obj) {
    if (obj != null && obj.isTextual()) {
      return new Command.Auth(obj.textValue());
    }
    return new Command.Auth(string(obj, "token"));
  }

  /** Messages a {@code history} command returns without {@code limit}. */
  public static final int DEFAULT_HISTORY_PAGE = 50;

  /** {@code {"room"}}. */
  public static Command.Leave leave(JsonNode obj) {
    return new Command.Leave(string(obj, "room"));
  }

  /** {@code {"room", "text", "cid"?}}. */
  public static Command.Publish publish(JsonNode obj) {
    return new Command.Publish(string(obj, "room"), string(obj, "text"), null, cid(obj));
  }

  /** A required string field: {@code bad_request} when it is missing or not a string. */
  public static String string(JsonNode obj, String field) {
    JsonNode v = obj == null ? null : obj.get(field);
    if (v == null || v.isNull()) {
      throw new ChatException(ErrorCode.BAD_REQUEST, field + " is required");
    }
    if (!v.isTextual()) {
      throw new ChatException(ErrorCode.BAD_REQUEST, field + " must be a string");
    }
    return v.textValue();
  }

  static StreamPosition since(JsonNode obj) {
    JsonNode v = obj.get("since");
    if (v == null || v.isNull()) {
      return null;
    }
    JsonNode epoch = v.get("epoch");
    JsonNode offset = v.get("offset");
    if (!v.isObject() || epoch == null || !epoch.isTextual() || epoch.textValue().length() > MAX_ID_LENGTH
      || offset == null || !offset.canConvertToLong() || !offset.isIntegralNumber() || offset.longValue() < 0) {
      throw new ChatException(ErrorCode.BAD_REQUEST,
        "since must be {\"epoch\": string, \"offset\": integer >= 0}, as the last message or joined carried");
    }
    return new StreamPosition(epoch.textValue(), offset.longValue());
  }

  static int historyCount(JsonNode obj) {
    JsonNode v = obj.get("history");
    if (v == null || v.isNull()) {
      return 0;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() > MAX_HISTORY) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "history must be an integer from 0 to " + MAX_HISTORY);
    }
    return v.intValue();
  }

  static String cid(JsonNode obj) {
    JsonNode v = obj.get("cid");
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual() || v.textValue().isEmpty() || v.textValue().length() > MAX_ID_LENGTH) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "cid must be a string of 1 to " + MAX_ID_LENGTH + " characters");
    }
    return v.textValue();
  }
}
