package dev.parley.core;

/**
 * A place in a room's message stream: {@code offset} grows by one per message; {@code epoch} names the
 * stream and changes when its history is lost (an in-memory store restarted or evicted the room), so an
 * offset is only meaningful together with its epoch. Offset 0 is before the first message.
 */
public record StreamPosition(String epoch, long offset) {
}
