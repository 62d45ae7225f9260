package dev.parley.transport.socketio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The Engine.IO query parameters read without Vert.x's parameter map ({@link EngineServer#param}). */
class EngineQueryTest {

  @Test
  void readsEachParameterWhereverItIs() {
    String q = "EIO=4&transport=polling&t=PZx1&sid=node1.AbC-_9";
    assertEquals("4", EngineServer.param(q, "EIO"));
    assertEquals("polling", EngineServer.param(q, "transport"));
    assertEquals("node1.AbC-_9", EngineServer.param(q, "sid"));
    assertEquals("PZx1", EngineServer.param(q, "t"));
  }

  @Test
  void aNameMustMatchWholeAndTheFirstValueCounts() {
    assertNull(EngineServer.param("xsid=1&sidx=2", "sid"));
    assertEquals("1", EngineServer.param("sid=1&sid=2", "sid"));
    assertEquals("", EngineServer.param("sid=&EIO=4", "sid"));
    assertEquals("", EngineServer.param("EIO=4&sid", "sid"));
    assertNull(EngineServer.param(null, "sid"));
    assertNull(EngineServer.param("", "sid"));
  }

  @Test
  void percentEncodedValuesAreDecoded() {
    assertEquals("a.b c", EngineServer.param("sid=a%2Eb%20c", "sid"));
    assertEquals("a b", EngineServer.param("sid=a+b", "sid"));
  }
}
