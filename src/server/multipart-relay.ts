/**
 * Relays a multipart upload (audio transcription) without holding it in memory. The model field
 * decides where the upload goes, so it must be known before the upstream request starts:
 *   - model before the file (the common order for curl, Python SDK): the file streams straight
 *     through as it arrives;
 *   - file before the model (the openai npm SDK's order): the file is spooled to disk, bounded by
 *     max_upload_bytes, and streamed from there once the model is known.
 *   - a model with more than one deployment (`spoolFor`): spooled too, so a fallback can send the
 *     upload again.
 * The upstream body is re-encoded with the same parts in the same order, the model field rewritten
 * to the provider's model name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { GatewayError } from '../errors/catalog.ts';

interface Field {
  name: string;
  value: string;
}

interface FilePart {
  field: string;
  filename: string;
  mimeType: string;
  /** The live part stream, or the spool file it was written to. */
  source: { stream: Readable } | { spool: string };
}

export interface MultipartUpload {
  /** The model field's value. */
  model: string;
  /** Fields seen so far (more may follow the file when it streams through). */
  fields: Field[];
  file: FilePart;
  /** The encoded body for upstream, with `model` replaced; consume once unless `replayable`. */
  body(upstreamModel: string): AsyncGenerator<Uint8Array | string>;
  /** The file is spooled: `body` can be sent again (a fallback to the next deployment). */
  replayable: boolean;
  contentType: string;
  /** Drains what was not relayed and removes the spool file, if any. */
  cleanup(): Promise<void>;
}

export function readMultipart(
  req: IncomingMessage,
  limits: { maxUploadBytes: number; spoolDir: string; spoolFor?: (model: string) => boolean },
): Promise<MultipartUpload> {
  const fields: Field[] = [];
  let file: FilePart | null = null;
  let spoolPath: string | null = null;
  let spoolDone: Promise<void> = Promise.resolve();
  let failure: GatewayError | null = null;
  const boundary = `tollbooth-${randomBytes(12).toString('hex')}`;

  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { files: 1, fields: 64, fieldSize: 64 * 1024, fileSize: limits.maxUploadBytes } });
  } catch (err) {
    return Promise.reject(new GatewayError('invalid_request', `Malformed multipart request: ${(err as Error).message}`));
  }
  const finished = new Promise<void>((resolve, reject) => {
    bb.on('close', resolve);
    bb.on('error', (err: Error) => reject(new GatewayError('invalid_request', `Malformed multipart request: ${err.message}`)));
  });

  return new Promise<MultipartUpload>((resolve, reject) => {
    const upload = (): MultipartUpload => ({
      model: fields.find((f) => f.name === 'model')?.value ?? '',
      fields,
      file: file!,
      contentType: `multipart/form-data; boundary=${boundary}`,
      body: (upstreamModel) => encode(boundary, fields, file!, upstreamModel, finished, () => failure),
      replayable: 'spool' in file!.source,
      cleanup: async () => {
        if (file && 'stream' in file.source) file.source.stream.resume();
        if (spoolPath) await rm(spoolPath, { force: true });
      },
    });

    bb.on('field', (name, value) => fields.push({ name, value }));
    bb.on('file', (field, stream, info) => {
      // A form that ends early destroys the file stream with busboy's error; that error reaches the
      // handler through `finished` (or the relay's read), never as an unhandled 'error' event.
      stream.on('error', () => undefined);
      stream.on('limit', () => {
        failure = new GatewayError('body_too_large', `The upload is larger than the limit of ${limits.maxUploadBytes} bytes.`);
      });
      const model = fields.find((f) => f.name === 'model');
      if (model && !limits.spoolFor?.(model.value)) {
        file = { field, filename: info.filename ?? 'upload', mimeType: info.mimeType, source: { stream } };
        resolve(upload());
        return;
      }
      mkdirSync(limits.spoolDir, { recursive: true });
      spoolPath = join(limits.spoolDir, `upload-${randomUUID()}`);
      file = { field, filename: info.filename ?? 'upload', mimeType: info.mimeType, source: { spool: spoolPath } };
      spoolDone = pipeline(stream, createWriteStream(spoolPath, { mode: 0o600 }));
      // Awaited only on the success path; a broken form is reported through `finished`.
      spoolDone.catch(() => undefined);
    });
    finished.then(
      async () => {
        await spoolDone;
        if (failure) throw failure;
        if (!file) throw new GatewayError('invalid_request', "The upload has no file part ('file').", { param: 'file' });
        if (!fields.some((f) => f.name === 'model')) throw new GatewayError('invalid_request', "The upload must name a 'model'.", { param: 'model' });
        resolve(upload());
      },
      (err: unknown) => reject(err),
    ).catch(async (err: unknown) => {
      if (spoolPath) await rm(spoolPath, { force: true });
      reject(err);
    });
    req.pipe(bb);
  });
}

async function* encode(
  boundary: string,
  fields: Field[],
  file: FilePart,
  upstreamModel: string,
  finished: Promise<void>,
  failure: () => GatewayError | null,
): AsyncGenerator<Uint8Array | string> {
  const fieldPart = (f: Field) =>
    `--${boundary}\r\ncontent-disposition: form-data; name="${quote(f.name)}"\r\n\r\n${f.name === 'model' ? upstreamModel : f.value}\r\n`;
  let sent = 0;
  for (; sent < fields.length; sent++) yield fieldPart(fields[sent]!);
  yield `--${boundary}\r\ncontent-disposition: form-data; name="${quote(file.field)}"; filename="${quote(file.filename)}"\r\ncontent-type: ${file.mimeType}\r\n\r\n`;
  const source = 'stream' in file.source ? file.source.stream : createReadStream(file.source.spool);
  for await (const chunk of source) yield chunk as Uint8Array;
  const error = failure();
  if (error) throw error;
  yield '\r\n';
  // Fields that followed a streamed file arrive only once the file has been read.
  await finished;
  for (; sent < fields.length; sent++) yield fieldPart(fields[sent]!);
  yield `--${boundary}--\r\n`;
}

function quote(s: string): string {
  return s.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
}
