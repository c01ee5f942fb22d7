/**
 * The one-pass chunk scanner must answer exactly what the separate scans it replaced answered
 * (sse.ts's hasObjectField / stringFieldChars and the finish test), on every recorded stream chunk
 * of every provider and on the whitespace and escape corner cases.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { scanChunk } from '../../../src/providers/openai-compatible/chunk-scan.ts';
import { chunkLines } from '../../support/fixtures.ts';

const GENERATED_FIELDS = ['"content"', '"reasoning_content"', '"reasoning"', '"arguments"', '"delta"'];
const FINISHED = /"finish_reason"\s*:\s*"|"type"\s*:\s*"response\.completed"/;

// The separate scans the one-pass scanner replaced, kept here as its reference.
/** True when `json` has `field` (quoted, e.g. '"usage"') holding an object — a cheap test before parsing. */
function hasObjectField(json: string, field: string): boolean {
  let at = json.indexOf(field);
  while (at !== -1) {
    let i = at + field.length;
    while (json.charCodeAt(i) === 32) i++;
    if (json[i] === ':') {
      i++;
      while (json.charCodeAt(i) === 32) i++;
      if (json[i] === '{') return true;
    }
    at = json.indexOf(field, at + field.length);
  }
  return false;
}

/** Total decoded length of the string values of `field` ('"content"') in `json`, without parsing it. */
function stringFieldChars(json: string, field: string): number {
  let total = 0;
  let at = json.indexOf(field);
  while (at !== -1) {
    let i = at + field.length;
    while (json.charCodeAt(i) === 32) i++;
    if (json[i] === ':') {
      i++;
      while (json.charCodeAt(i) === 32) i++;
      if (json[i] === '"') {
        // Count decoded characters: an escape (\n, \", \u00e9) is one character of text.
        for (i++; i < json.length && json[i] !== '"'; total++) i += json[i] !== '\\' ? 1 : json[i + 1] === 'u' ? 6 : 2;
      }
    }
    at = json.indexOf(field, i);
  }
  return total;
}

function reference(data: string) {
  return {
    generatedChars: GENERATED_FIELDS.reduce((n, f) => n + stringFieldChars(data, f), 0),
    errorObject: hasObjectField(data, '"error"'),
    usageObject: hasObjectField(data, '"usage"'),
    failedResponse: data.includes('"type":"response.failed"'),
    finished: FINISHED.test(data),
  };
}

const root = new URL('../../fixtures/providers/', import.meta.url);
const recorded = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.chunks.txt'))
  .flatMap((f) => chunkLines(f));

test('every recorded chunk of every provider scans the same as the separate scans', () => {
  assert.ok(recorded.length > 500, `${recorded.length} recorded chunks`);
  let generated = 0;
  for (const data of recorded) {
    const expected = reference(data);
    assert.deepEqual(scanChunk(data), expected, data);
    generated += expected.generatedChars;
  }
  assert.ok(generated > 0);
  assert.ok(recorded.some((d) => reference(d).usageObject) && recorded.some((d) => reference(d).finished));
});

test('whitespace, escapes, nesting and look-alikes scan the same as the separate scans', () => {
  const cases = [
    '{"choices":[{"delta":{"content":"a\\"b\\\\c\\u00e9\\n"},"finish_reason":null}]}',
    '{"choices":[{"delta":{"content" : "spaced"},"finish_reason" : "stop"}]}',
    '{"choices":[{"delta":{"content":\t"tabbed"},"finish_reason":\n"stop"}]}',
    '{"delta":"responses api text","type":"response.output_text.delta"}',
    '{"type": "response.completed","response":{"usage" : {"input_tokens":3}}}',
    '{"type":"response.failed","response":{"error":{"code":"server_error"}}}',
    '{"type": "response.failed"}',
    '{"error":"not an object","x_groq":{"usage":{"prompt_tokens":1}}}',
    '{"error" :{"message":"boom"}}',
    '{"error":\t{"message":"tab"}}',
    '{"role":"content","reasoning_content":"think","reasoning":"more","arguments":"{\\"a\\":1}"}',
    '{"content":["part"],"content":"dup","usage":null,"subtype":"response.failed"}',
    '{"content":"unterminated',
    'not json at all "content":"x"',
  ];
  for (const data of cases) assert.deepEqual(scanChunk(data), reference(data), data);
});
