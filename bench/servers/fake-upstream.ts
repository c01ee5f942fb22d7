/**
 * A fast fake provider (node:http, no framework) replaying recorded bodies from memory:
 *   POST /v1/chat/completions  OpenAI chat.completion (openai-text.json), or with `"stream":true`
 *                              the first 40 recorded chunks + the usage chunk + [DONE]
 *   POST /v1/messages          Anthropic Messages stream (anthropic-text.chunks.txt, `event:` framed)
 * Streams are written frame by frame, as a provider sends them, so proxies see many small chunks.
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { serve } from './serve.ts';

const FIXTURES = new URL('../../test/fixtures/providers/', import.meta.url);
const STREAMED_CHUNKS = 40;

const lines = (path: string) => readFileSync(new URL(path, FIXTURES), 'utf8').split('\n').filter((l) => l.length > 0);

const openaiJson = readFileSync(new URL('openai/openai-text.json', FIXTURES));
const openaiLines = lines('openai/openai-text.chunks.txt');
const openaiFrames = [...openaiLines.slice(0, STREAMED_CHUNKS), openaiLines.at(-1)!]
  .map((line) => Buffer.from(`data: ${line}\n\n`))
  .concat(Buffer.from('data: [DONE]\n\n'));
const anthropicJson = readFileSync(new URL('anthropic/anthropic-text.json', FIXTURES));
const anthropicFrames = lines('anthropic/anthropic-text.chunks.txt').map((line) =>
  Buffer.from(`event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`),
);

const STREAM = /"stream"\s*:\s*true/;

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const stream = STREAM.test(body);
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      if (stream) sendFrames(res, openaiFrames);
      else sendJson(res, openaiJson);
    } else if (req.method === 'POST' && req.url === '/v1/messages') {
      if (stream) sendFrames(res, anthropicFrames);
      else sendJson(res, anthropicJson);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"fake upstream: no such route"}}');
    }
  });
});

function sendJson(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function sendFrames(res: ServerResponse, frames: Buffer[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const frame of frames) res.write(frame);
  res.end();
}

await serve(server);
