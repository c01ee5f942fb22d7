/** Writing to the client with backpressure, and noticing when the client goes away. */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Writes and waits for 'drain' when the socket buffer is full; resolves false if the client left.
 * Writes made in the same tick (one upstream read often carries several events) leave in one
 * system call: the socket is corked until the tick ends, which delays nothing. The socket, not the
 * response: ServerResponse.cork() loses chunked writes made across ticks on Node 24
 * (its corked count goes negative after the second uncork).
 */
export function writeWithBackpressure(res: ServerResponse, data: string | Uint8Array): Promise<boolean> | boolean {
  if (res.destroyed) return false;
  const socket = res.socket;
  if (socket && socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(uncork, socket);
  }
  if (res.write(data)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

function uncork(socket: Socket): void {
  socket.uncork();
}

/** An AbortController that fires when the client disconnects before the response is finished. */
export function abortOnClientClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}
