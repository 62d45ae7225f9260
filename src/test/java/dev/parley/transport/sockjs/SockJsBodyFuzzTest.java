package dev.parley.transport.sockjs;

import com.code_intelligence.jazzer.junit.FuzzTest;

/** Fuzzes the SockJS send-body check: any body is judged (array of strings, other JSON, not JSON) without an exception. */
class SockJsBodyFuzzTest {

  @FuzzTest(maxDuration = "10s")
  void anySendBodyIsJudged(String body) {
    if (body != null) {
      SockJsTransport.arrayOfStrings(body);
    }
  }
}
