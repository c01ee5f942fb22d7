/**
 * WebSocket framing (RFC 6455 §5), just enough to tap a relayed session: frames are cut out of the
 * byte stream whole (so each is forwarded unchanged, and a close frame of ours can only land
 * between two of them), data messages are reassembled from their fragments for the usage tap.
 * No extension is ever negotiated through the sidecar (realtime-upgrade.ts strips
 * Sec-WebSocket-Extensions), so a frame with an RSV bit set is one we cannot read.
 */

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface Frame {
  /** The frame's bytes as received: forwarded unchanged. */
  raw: Buffer;
  fin: boolean;
  /** RSV1–3 as a 3-bit number: non-zero means an extension we did not allow (compression). */
  rsv: number;
  opcode: number;
  /** Payload, unmasked. */
  payload: Buffer;
}

export class FrameError extends Error {}

/** Cuts whole frames out of a byte stream. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #buffered: Buffer = Buffer.alloc(0);

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** The frames completed by `chunk`, in order; a frame larger than the limit is a FrameError. */
  push(chunk: Buffer): Frame[] {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === null) return frames;
      frames.push(frame);
    }
  }

  #next(): Frame | null {
    const b = this.#buffered;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(this.#maxFrameBytes)) throw new FrameError(`a frame of ${big} bytes is over the ${this.#maxFrameBytes}-byte limit`);
      length = Number(big);
      offset = 10;
    }
    if (length > this.#maxFrameBytes) throw new FrameError(`a frame of ${length} bytes is over the ${this.#maxFrameBytes}-byte limit`);
    const maskAt = offset;
    if (masked) offset += 4;
    if (b.length < offset + length) return null;
    const raw = b.subarray(0, offset + length);
    const payload = Buffer.from(b.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ b[maskAt + (i & 3)]!;
    this.#buffered = b.subarray(offset + length);
    return { raw, fin: (b[0]! & 0x80) !== 0, rsv: (b[0]! >> 4) & 0x07, opcode: b[0]! & 0x0f, payload };
  }
}

/** Reassembles data messages from their frames (control frames may come between fragments). */
export class MessageAssembler {
  readonly #maxMessageBytes: number;
  #opcode = -1;
  #parts: Buffer[] = [];
  #size = 0;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** The whole message this data frame completes, or null; a control frame is not for this. */
  push(frame: Frame): { opcode: number; data: Buffer } | null {
    if (frame.opcode !== OPCODE.continuation) {
      if (this.#opcode !== -1) throw new FrameError('a new message began before the last one ended');
      this.#opcode = frame.opcode;
    } else if (this.#opcode === -1) {
      throw new FrameError('a continuation frame with no message to continue');
    }
    this.#size += frame.payload.length;
    if (this.#size > this.#maxMessageBytes) throw new FrameError(`a message over the ${this.#maxMessageBytes}-byte limit`);
    this.#parts.push(frame.payload);
    if (!frame.fin) return null;
    const message = { opcode: this.#opcode, data: this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts) };
    this.#opcode = -1;
    this.#parts = [];
    this.#size = 0;
    return message;
  }
}

/** An unmasked close frame (server → client) with a status code and a reason of at most 123 bytes. */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > 123) text = Buffer.from(text.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...', 'utf8');
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}

/** A masked close frame (client → server, RFC 6455 §5.3: a client's frames are masked). */
export function maskedCloseFrame(code: number): Buffer {
  const mask = Buffer.from([0x5a, 0x17, 0xc3, 0x9e]);
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  for (let i = 0; i < 2; i++) payload[i] = payload[i]! ^ mask[i]!;
  return Buffer.concat([Buffer.from([0x88, 0x80 | 2]), mask, payload]);
}
