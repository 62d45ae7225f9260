package dev.parley.transport.contract;

import dev.parley.support.SioClient;

/** The transport contract on Socket.IO, long-polling only. */
class SocketIoPollingContractTest extends SocketIoContract {

  @Override
  protected SioClient.Mode mode() {
    return SioClient.Mode.POLLING;
  }
}
