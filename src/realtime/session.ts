/**
 * One relayed realtime session: the client's socket and the provider's, joined frame by frame (never
 * byte-piped, so a close frame of ours lands between two frames), the server's messages tapped for
 * usage and each usage booked as one charge before the frame that carried it reaches the client.
 *
 * Money rules on a socket:
 *   - Every charge consumes one Admission; the next one is taken right after, and until it is taken
 *     the client's frames wait. A denial (credits, plan, rate) closes the session with a close frame
 *     that names it (4000 + the HTTP status a request would have had: 4402, 4403, 4429).
 *   - Managed usage is never served unmetered: a frame that cannot be read (compressed, over the
 *     size limit, not JSON) or a turn that ends without usage closes a managed session (1008); its
 *     turn in flight is charged as an estimate. A BYOK session only stops being tapped.
 *   - A session that ends mid-turn is charged what the provider reported so far, else an estimate
 *     from the output delivered (marked `estimated`), plus the run credit.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Caller } from '../admission/caller-auth.ts';
import { isDenial } from '../admission/denial.ts';
import type { Admission } from '../admission/gate.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import { estimated, type Usage } from '../metering/usage.ts';
import type { Target } from '../routing/target.ts';
import type { RequestContext } from '../server/services.ts';
import type { RealtimeDialect } from './dialects.ts';
import { closeFrame, FrameError, FrameReader, maskedCloseFrame, MessageAssembler, OPCODE, type Frame } from './frames.ts';

export interface RealtimeSessionOptions {
  ctx: RequestContext;
  caller: Caller;
  dialect: RealtimeDialect;
  target: Target;
  /** Admitted at the upgrade: pays for the first turn. */
  admission: Admission;
  requestedModel: string | null;
  client: Socket;
  upstream: Socket;
  /** The largest frame or message the tap reads (limits.max_body_bytes). */
  maxMessageBytes: number;
  /** Admits the next turn (throws a DenialError when the org may not go on). */
  admitNext(): Promise<Admission>;
  /** The model named in the client's first message (Gemini's setup): resolve it onto the target. */
  onModel(upstreamModel: string): void;
}

/** Close codes: 4000 + HTTP status for a denial (as OpenAI's own 4xxx codes), 1008 for "cannot meter". */
export const CLOSE_UNMETERABLE = 1008;

/** Runs tasks one after another; pauses the socket feeding them while too many wait. */
class Serial {
  readonly #source: Duplex;
  readonly #onError: (err: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  constructor(source: Duplex, onError: (err: unknown) => void) {
    this.#source = source;
    this.#onError = onError;
  }
  push(task: () => Promise<void> | void): void {
    if (++this.#waiting > 16) this.#source.pause();
    this.#tail = this.#tail
      .then(task)
      .catch(this.#onError)
      .finally(() => {
        if (--this.#waiting <= 16 && this.#source.isPaused()) this.#source.resume();
      });
  }
}

export class RealtimeSession {
  readonly #o: RealtimeSessionOptions;
  readonly #managed: boolean;
  #admission: Admission | null;
  /** Resolves once the current turn is admitted; client frames wait for it. */
  #gate: Promise<boolean> = Promise.resolve(true);
  /** Set between a charge and the next admission: settles #gate. */
  #reopen: ((admitted: boolean) => void) | null = null;
  #tapping = true;
  #closed = false;
  #turns = 0;
  #inTurn = false;
  #turnStartedAt = performance.now();
  #pending: Usage | null = null;
  #outputChars = 0;
  #modelKnown: boolean;

  constructor(options: RealtimeSessionOptions) {
    this.#o = options;
    this.#admission = options.admission;
    this.#managed = options.target.credential.billing === 'managed';
    this.#modelKnown = !options.dialect.modelInFirstMessage;
  }

  /** Takes both sockets over (they arrive unpiped and paused). */
  start(): void {
    const { client, upstream, maxMessageBytes } = this.#o;
    const fail = (err: unknown) => this.#failed(err);
    const fromServer = new Serial(upstream, fail);
    const fromClient = new Serial(client, fail);
    const serverFrames = new FrameReader(maxMessageBytes);
    const serverMessages = new MessageAssembler(maxMessageBytes);
    const clientFrames = new FrameReader(maxMessageBytes);
    const clientMessages = new MessageAssembler(maxMessageBytes);
    upstream.on('data', (chunk: Buffer) => fromServer.push(() => this.#fromServer(chunk, serverFrames, serverMessages)));
    client.on('data', (chunk: Buffer) => fromClient.push(() => this.#fromClient(chunk, clientFrames, clientMessages)));
    const ended = () => fromServer.push(() => this.#ended());
    upstream.once('close', ended);
    client.once('close', ended);
    upstream.resume();
    client.resume();
  }

  async #fromServer(chunk: Buffer, frames: FrameReader, messages: MessageAssembler): Promise<void> {
    if (this.#closed) return;
    let parsed: Frame[];
    try {
      parsed = frames.push(chunk);
    } catch (err) {
      return this.#cannotTap(err instanceof FrameError ? err.message : 'an unreadable frame', chunk);
    }
    for (const frame of parsed) {
      if (this.#closed) return;
      if (this.#tapping && frame.opcode < OPCODE.close) {
        const why = await this.#tap(frame, messages);
        if (why !== null) {
          await this.#cannotTap(why, frame.raw);
          continue;
        }
      }
      await write(this.#o.client, frame.raw);
      await this.#admitAfterCharge();
    }
  }

  /** Reads a data frame for usage (charging before the frame goes on); a reason when it cannot. */
  async #tap(frame: Frame, messages: MessageAssembler): Promise<string | null> {
    if (frame.rsv !== 0) return 'a compressed frame (no extension was negotiated)';
    let message: { opcode: number; data: Buffer } | null;
    try {
      message = messages.push(frame);
    } catch (err) {
      return err instanceof FrameError ? err.message : 'an unreadable message';
    }
    if (message === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(message.data.toString('utf8'));
    } catch {
      return 'a server message that is not JSON';
    }
    for (const event of this.#o.dialect.serverEvent(json)) {
      switch (event.kind) {
        case 'turn_started':
          if (!this.#inTurn) this.#turnStartedAt = performance.now();
          this.#inTurn = true;
          break;
        case 'output':
          this.#inTurn = true;
          this.#outputChars += event.chars;
          break;
        case 'usage':
          if (event.final) await this.#charge(event.usage, 'ok');
          else this.#pending = event.usage;
          break;
        case 'turn_ended_without_usage':
          if (this.#pending) await this.#charge(this.#pending, 'ok');
          else return 'a turn ended without reporting its usage';
          break;
        case 'none':
          break;
      }
    }
    return null;
  }

  /** A frame the tap cannot read: a managed session ends here, a BYOK one goes on untapped. */
  async #cannotTap(why: string, raw: Buffer): Promise<void> {
    this.#o.ctx.services.log.warn({ request_id: this.#o.ctx.id, provider: this.#o.target.provider.name, managed: this.#managed }, `realtime: cannot meter: ${why}`);
    if (!this.#managed) {
      this.#tapping = false;
      await write(this.#o.client, raw);
      return;
    }
    this.#close(CLOSE_UNMETERABLE, `tollbooth: closed, usage cannot be metered (${why})`);
    await this.#chargeInFlight();
  }

  async #fromClient(chunk: Buffer, frames: FrameReader, messages: MessageAssembler): Promise<void> {
    // Nothing reaches the provider while a turn waits for admission (or after a denial).
    if (!(await this.#gate) || this.#closed) return;
    let parsed: Frame[];
    try {
      parsed = frames.push(chunk);
    } catch (err) {
      return this.#close(1009, `tollbooth: ${err instanceof FrameError ? err.message : 'unreadable frame'}`);
    }
    for (const frame of parsed) {
      if (!this.#modelKnown && frame.opcode < OPCODE.close) {
        let message: { opcode: number; data: Buffer } | null = null;
        try {
          message = messages.push(frame);
        } catch {
          /* handled below: no model named */
        }
        if (message !== null || frame.fin) {
          const model = message ? this.#o.dialect.modelFromClientMessage(safeJson(message.data)) : null;
          if (model === null) return this.#close(1008, 'tollbooth: the first message must name the model (setup.model)');
          this.#modelKnown = true;
          this.#o.onModel(model);
          // The first admission did not know the model: admit again, priced.
          this.#admission?.release();
          this.#admission = null;
          this.#gate = this.#admitNext();
          if (!(await this.#gate)) return;
        }
      }
      if (this.#closed) return;
      await write(this.#o.upstream, frame.raw);
    }
  }

  /** Books one turn's usage (the ledger write awaited), then admits the next turn. */
  async #charge(usage: Usage, outcome: ExchangeOutcome): Promise<void> {
    const { ctx, caller, target, requestedModel } = this.#o;
    const admission = this.#admission ?? undefined;
    this.#admission = null;
    const { written } = ctx.services.meter.settle({
      requestId: `${ctx.id}.${++this.#turns}`,
      caller,
      ...(admission ? { admission } : {}),
      api: 'native',
      operation: 'realtime',
      stream: true,
      requestedModel,
      target,
      status: 101,
      outcome,
      usage,
      attempts: 1,
      startedAt: this.#turnStartedAt,
      firstByteAt: null,
      endedAt: performance.now(),
    });
    this.#inTurn = false;
    this.#pending = null;
    this.#outputChars = 0;
    this.#turnStartedAt = performance.now();
    await written;
    // Client frames wait from now until the next turn is admitted, which happens once the frame
    // that carried this usage has gone on to the client (#fromServer).
    if (!this.#closed && this.#reopen === null) this.#gate = new Promise<boolean>((resolve) => (this.#reopen = resolve));
  }

  /** After a charge: admits the next turn and lets the client's frames through again (or not). */
  async #admitAfterCharge(): Promise<void> {
    const reopen = this.#reopen;
    if (reopen === null) return;
    this.#reopen = null;
    reopen(this.#closed ? false : await this.#admitNext());
  }

  /** Admits the next turn; false (and the session closed with the denial) when the org may not go on. */
  async #admitNext(): Promise<boolean> {
    try {
      this.#admission = await this.#o.admitNext();
      return true;
    } catch (err) {
      if (isDenial(err)) {
        const { code, reason } = err.envelope;
        this.#close(4000 + err.status, `${code}: ${reason}`);
      } else {
        this.#o.ctx.services.log.warn({ request_id: this.#o.ctx.id, err: String(err) }, 'realtime: admission failed');
        this.#close(1011, 'tollbooth: admission failed');
      }
      return false;
    }
  }

  /** The turn in flight when the session stops: what was reported, else an estimate from what was delivered. */
  async #chargeInFlight(): Promise<void> {
    if (this.#pending) return this.#charge(this.#pending, 'aborted');
    if (this.#inTurn) return this.#charge(estimated(0, this.#outputChars), 'aborted');
  }

  /** Either socket closed: the turn in flight is charged (once: a charge clears it), the hold given back. */
  async #ended(): Promise<void> {
    this.#closed = true;
    this.#reopen?.(false);
    this.#reopen = null;
    await this.#chargeInFlight();
    this.#admission?.release();
    this.#admission = null;
    this.#o.client.destroySoon();
    this.#o.upstream.end();
  }

  /** Ends the session from our side: a close frame to each end, then the sockets. */
  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reopen?.(false);
    this.#reopen = null;
    const { client, upstream } = this.#o;
    if (client.writable) client.end(closeFrame(code, reason));
    if (upstream.writable) upstream.end(maskedCloseFrame(1000));
    this.#admission?.release();
    this.#admission = null;
  }

  #failed(err: unknown): void {
    this.#o.ctx.services.log.warn({ request_id: this.#o.ctx.id, err: String(err) }, 'realtime: relay failed');
    this.#o.client.destroy();
    this.#o.upstream.destroy();
  }
}

function safeJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
}

/** Writes, waiting for the socket to drain (or close) when its buffer is full. */
async function write(socket: Duplex, bytes: Buffer): Promise<void> {
  if (!socket.writable) return;
  if (socket.write(bytes)) return;
  await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
}
