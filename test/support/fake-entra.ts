/**
 * A fake Microsoft Entra ID token endpoint over TLS on 127.0.0.1:0 (@azure/identity refuses an
 * authority host that is not https). Its certificate is self-signed, made by openssl for this run;
 * a gateway trusts it through NODE_EXTRA_CA_CERTS, which Node reads at start-up: so the gateway
 * runs in a child process. It serves the OpenID configuration MSAL reads and the client-credentials
 * token endpoint, accepting only the federated token (the service account token file's content)
 * it was told; every token it issues is a new one with a short life.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedToken {
  generation: number;
  token: string;
  expiresAt: number;
}

export interface FakeEntraOptions {
  tenantId: string;
  clientId: string;
  /** The client assertion accepted: the federated token file's content at the time. */
  assertion: () => string;
  scope: string;
  /** Token lifetime in whole seconds (Entra's expires_in). */
  lifetimeSeconds: number;
}

export class FakeEntra {
  readonly issued: IssuedToken[] = [];
  readonly refusals: string[] = [];
  /** The PEM file of the self-signed certificate, for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
  readonly #dir: string;
  readonly #server: Server;
  readonly #options: FakeEntraOptions;
  url = '';

  private constructor(options: FakeEntraOptions) {
    this.#options = options;
    this.#dir = mkdtempSync(join(tmpdir(), 'tollbooth-entra-'));
    const key = join(this.#dir, 'key.pem');
    this.caFile = join(this.#dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', this.caFile,
    ], { stdio: 'ignore' });
    this.#server = createServer({ key: readFileSync(key), cert: readFileSync(this.caFile) }, (req, res) => {
      void this.#handle(req).then(
        ({ status, json }) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json)),
        () => res.destroy(),
      );
    });
  }

  static async start(options: FakeEntraOptions): Promise<FakeEntra> {
    const fake = new FakeEntra(options);
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.url = `https://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  token(value: string): IssuedToken | undefined {
    return this.issued.find((t) => t.token === value);
  }

  /**
   * Not older than the generation before the newest, and not used a whole lifetime past its expiry
   * (the client dates a token from when it received it, a little after it was issued here).
   */
  isCurrent(t: IssuedToken, at: number): boolean {
    const newest = this.issued.at(-1)?.generation ?? 0;
    return at <= t.expiresAt + this.#options.lifetimeSeconds * 1000 && t.generation >= newest - 1;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; json: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '/').split('?')[0]!;
    const { tenantId } = this.#options;
    const base = `${this.url}/${tenantId}`;
    if (req.method === 'GET' && path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      return {
        status: 200,
        json: {
          issuer: `${base}/v2.0`,
          token_endpoint: `${base}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          jwks_uri: `${base}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'token'],
        },
      };
    }
    if (req.method === 'POST' && path === `/${tenantId}/oauth2/v2.0/token`) return this.#token(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    return { status: 404, json: { error: 'not_found', error_description: `fake Entra: no route for ${req.method} ${path}` } };
  }

  #token(form: URLSearchParams): { status: number; json: unknown } {
    const o = this.#options;
    const ok =
      form.get('grant_type') === 'client_credentials' &&
      form.get('client_id') === o.clientId &&
      form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' &&
      form.get('client_assertion') === o.assertion() &&
      form.get('scope') === o.scope;
    if (!ok) {
      this.refusals.push(`token request refused: ${[...form.keys()].join(',')} scope=${form.get('scope')}`);
      return { status: 401, json: { error: 'invalid_client', error_description: 'AADSTS700213: No matching federated identity record found.' } };
    }
    const token: IssuedToken = {
      generation: this.issued.length + 1,
      token: `entra-test-token-${this.issued.length + 1}-${randomBytes(24).toString('base64url')}`,
      expiresAt: Date.now() + o.lifetimeSeconds * 1000,
    };
    this.issued.push(token);
    return { status: 200, json: { token_type: 'Bearer', expires_in: o.lifetimeSeconds, ext_expires_in: o.lifetimeSeconds, access_token: token.token } };
  }
}
