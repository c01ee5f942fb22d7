/** Writing to the client with backpressure, and noticing when the client goes away. */
import type { ServerResponse } from 'node:http';

/** Writes and waits for 'drain' when the socket buffer is full; resolves false if the client left. */
export function writeWithBackpressure(res: ServerResponse, data: string | Uint8Array): Promise<boolean> | boolean {
  if (res.destroyed) return false;
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

/** An AbortController that fires when the client disconnects before the response is finished. */
export function abortOnClientClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}
