package dev.parley.transport.contract;

import dev.parley.support.SockJsXhrClient;

/** The transport contract on SockJS's xhr-streaming transport. */
class SockJsXhrStreamingContractTest extends SockJsXhrContract {

  @Override
  protected SockJsXhrClient.Mode mode() {
    return SockJsXhrClient.Mode.XHR_STREAMING;
  }
}
