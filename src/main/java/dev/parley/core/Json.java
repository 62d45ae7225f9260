package dev.parley.core;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;

/** The one Jackson mapper of Parley and the few calls the rest of the code needs from it. */
public final class Json {

  /** Shared, thread-safe once configured. */
  public static final ObjectMapper MAPPER = JsonMapper.builder()
    .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
    .build();

  private Json() {
  }

  public static String encode(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode " + value.getClass().getSimpleName(), e);
    }
  }

  public static byte[] encodeBytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode " + value.getClass().getSimpleName(), e);
    }
  }

  public static ChatEvent decodeEvent(byte[] json, int offset, int length) {
    try {
      return MAPPER.readValue(json, offset, length, ChatEvent.class);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot decode chat event", e);
    }
  }

  /** Parses untrusted client text into a tree; throws {@link ChatException} BAD_REQUEST when it is not JSON. */
  public static JsonNode parseTree(String text) {
    try {
      JsonNode node = MAPPER.readTree(text);
      if (node == null) {
        throw new ChatException(ErrorCode.BAD_REQUEST, "empty frame");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new ChatException(ErrorCode.BAD_REQUEST, "malformed JSON");
    }
  }
}
