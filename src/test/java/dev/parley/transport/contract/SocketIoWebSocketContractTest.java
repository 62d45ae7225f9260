package dev.parley.transport.contract;

import dev.parley.support.SioClient;

/** The transport contract on Socket.IO, WebSocket only. */
class SocketIoWebSocketContractTest extends SocketIoContract {

  @Override
  protected SioClient.Mode mode() {
    return SioClient.Mode.WEBSOCKET;
  }
}
