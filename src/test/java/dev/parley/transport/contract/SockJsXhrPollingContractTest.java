package dev.parley.transport.contract;

import dev.parley.support.SockJsXhrClient;

/** The transport contract on SockJS's xhr-polling transport. */
class SockJsXhrPollingContractTest extends SockJsXhrContract {

  @Override
  protected SockJsXhrClient.Mode mode() {
    return SockJsXhrClient.Mode.XHR_POLLING;
  }
}
