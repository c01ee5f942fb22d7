/**
 * A fake of the two places a pod's AWS keys come from, on 127.0.0.1:0: STS (AssumeRoleWithWebIdentity
 * for IRSA's web identity token file, AssumeRole for a role on top; the Query protocol, XML answers
 * as STS sends them) and the EKS Pod Identity agent's container credentials endpoint (JSON, with its
 * Authorization token). Every issue is a new generation of keys with a short life, so a test can
 * check that the gateway signs with the current keys only and moves on when they rotate.
 */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IssuedKeys {
  generation: number;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
  via: 'web-identity' | 'assume-role' | 'container';
}

export interface FakeAwsIdentityOptions {
  /** How long each issued key lives. */
  lifetimeMs: number;
  /** The web identity token STS accepts (read from the token file by the SDK): a function, as Kubernetes rotates it. */
  webIdentityToken?: () => string;
  roleArn?: string;
  /** The Authorization value the container endpoint accepts. */
  containerToken?: string;
}

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class FakeAwsIdentity {
  readonly issued: IssuedKeys[] = [];
  /** Requests refused (a wrong token, role or authorization): each is a test failure to report. */
  readonly refusals: string[] = [];
  readonly #server: Server;
  readonly #options: FakeAwsIdentityOptions;
  url = '';

  private constructor(options: FakeAwsIdentityOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      void this.#handle(req).then(
        ({ status, type, body }) => res.writeHead(status, { 'content-type': type }).end(body),
        () => res.destroy(),
      );
    });
  }

  static async start(options: FakeAwsIdentityOptions): Promise<FakeAwsIdentity> {
    const fake = new FakeAwsIdentity(options);
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The keys issued under `accessKeyId`, if this fake issued them. */
  keys(accessKeyId: string): IssuedKeys | undefined {
    return this.issued.find((k) => k.accessKeyId === accessKeyId);
  }

  /**
   * Whether keys are still current at `at`: not expired, and not older than the generation before
   * the newest of their kind (a request signed just before a rotation may still be on its way).
   */
  isCurrent(keys: IssuedKeys, at: number): boolean {
    const same = this.issued.filter((k) => k.via === keys.via);
    return at <= keys.expiresAt && same.indexOf(keys) >= same.length - 2;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; type: string; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'GET' && req.url === '/v1/credentials') return this.#container(req);
    if (req.method === 'POST') return this.#sts(new URLSearchParams(body), req);
    return { status: 404, type: 'text/plain', body: 'not found' };
  }

  #container(req: IncomingMessage): { status: number; type: string; body: string } {
    if (req.headers.authorization !== this.#options.containerToken) {
      this.refusals.push('container endpoint: wrong Authorization token');
      return { status: 401, type: 'application/json', body: JSON.stringify({ code: 'AccessDenied', message: 'bad token' }) };
    }
    const k = this.#issue('container');
    return {
      status: 200,
      type: 'application/json',
      body: JSON.stringify({ AccessKeyId: k.accessKeyId, SecretAccessKey: k.secretAccessKey, Token: k.sessionToken, Expiration: new Date(k.expiresAt).toISOString(), AccountId: '123456789012' }),
    };
  }

  #sts(form: URLSearchParams, req: IncomingMessage): { status: number; type: string; body: string } {
    const action = form.get('Action');
    if (action === 'AssumeRoleWithWebIdentity') {
      if (form.get('WebIdentityToken') !== this.#options.webIdentityToken?.() || form.get('RoleArn') !== this.#options.roleArn) {
        this.refusals.push('STS: wrong web identity token or role');
        return stsError('InvalidIdentityToken', 'The web identity token or role is not the expected one.');
      }
      return stsAnswer(action, this.#issue('web-identity'));
    }
    if (action === 'AssumeRole') {
      // Called with keys from the chain: they must be this fake's, and current.
      const id = /Credential=([A-Z0-9]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
      const by = id === undefined ? undefined : this.keys(id);
      if (!by || by.via === 'assume-role' || !this.isCurrent(by, Date.now())) {
        this.refusals.push('STS AssumeRole: not signed with current chain keys');
        return stsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
      }
      return stsAnswer(action, this.#issue('assume-role'));
    }
    return stsError('InvalidAction', 'unknown action');
  }

  #issue(via: IssuedKeys['via']): IssuedKeys {
    const id = Array.from(randomBytes(16), (b) => ACCESS_KEY_ALPHABET[b % 32]).join('');
    const keys: IssuedKeys = {
      generation: this.issued.length + 1,
      accessKeyId: `ASIA${id}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(48).toString('base64')}`,
      expiresAt: Date.now() + this.#options.lifetimeMs,
      via,
    };
    this.issued.push(keys);
    return keys;
  }
}

function stsAnswer(action: string, k: IssuedKeys): { status: number; type: string; body: string } {
  const user = 'AssumedRoleUser';
  const body =
    `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result>` +
    `<Credentials><AccessKeyId>${k.accessKeyId}</AccessKeyId><SecretAccessKey>${k.secretAccessKey}</SecretAccessKey>` +
    `<SessionToken>${k.sessionToken}</SessionToken><Expiration>${new Date(k.expiresAt).toISOString()}</Expiration></Credentials>` +
    `<${user}><Arn>arn:aws:sts::123456789012:assumed-role/tollbooth/test</Arn><AssumedRoleId>AROATEST:test</AssumedRoleId></${user}>` +
    `</${action}Result><ResponseMetadata><RequestId>${randomBytes(8).toString('hex')}</RequestId></ResponseMetadata></${action}Response>`;
  return { status: 200, type: 'text/xml', body };
}

function stsError(code: string, message: string): { status: number; type: string; body: string } {
  return {
    status: 403,
    type: 'text/xml',
    body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
  };
}
