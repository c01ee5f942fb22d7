/**
 * Where the snippets find Tollbooth: the sidecar on loopback and the app's Tollbooth key (never a
 * provider key). TOLLBOOTH_URL and TOLLBOOTH_KEY override the local defaults (`npm start`).
 */
export interface Sidecar {
  url: string;
  key: string;
}

export function sidecar(): Sidecar {
  return {
    url: process.env.TOLLBOOTH_URL ?? 'http://127.0.0.1:4000',
    key: process.env.TOLLBOOTH_KEY ?? 'tb-local-dev-key',
  };
}
