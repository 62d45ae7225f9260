package dev.parley.core;

/** One member of a room as presence reports it: the session id and the name it joined with. */
public record Member(String session, String name) {
}
