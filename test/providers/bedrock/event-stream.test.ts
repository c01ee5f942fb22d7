/**
 * The event-stream reader against AWS's canonical test vectors (bedrock/eventstream-testvectors,
 * from aws-sdk-go): positive vectors decode to exactly the headers and payload of their JSON twin,
 * negative ones (corrupted length, header length, headers, payload) are rejected.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { MessageHeaderValue } from '@smithy/types';
import { codec, EventStreamReader } from '../../../src/providers/bedrock/event-stream.ts';
import { fixtureBytes, fixtureJson, fixtureText } from '../../support/fixtures.ts';
import { recordedFrames } from './bedrock-upstream.ts';

const VECTORS = 'bedrock/eventstream-testvectors';
const names = (kind: 'positive' | 'negative') => readdirSync(new URL(`../../fixtures/providers/${VECTORS}/encoded/${kind}`, import.meta.url));

interface VectorHeader {
  name: string;
  type: number;
  value: unknown;
}

/** A decoded header in the vectors' JSON notation (type codes and value encodings of the spec). */
function asVector(name: string, header: MessageHeaderValue): VectorHeader {
  switch (header.type) {
    case 'boolean':
      return { name, type: header.value ? 0 : 1, value: header.value };
    case 'byte':
      return { name, type: 2, value: header.value };
    case 'short':
      return { name, type: 3, value: header.value };
    case 'integer':
      return { name, type: 4, value: header.value };
    case 'long':
      return { name, type: 5, value: header.value.valueOf() };
    case 'binary':
      return { name, type: 6, value: Buffer.from(header.value).toString('base64') };
    case 'string':
      return { name, type: 7, value: Buffer.from(header.value, 'utf8').toString('base64') };
    case 'timestamp':
      return { name, type: 8, value: header.value.getTime() };
    case 'uuid':
      return { name, type: 9, value: Buffer.from(header.value.replaceAll('-', ''), 'hex').toString('base64') };
  }
}

describe('AWS event-stream codec, canonical test vectors', () => {
  for (const name of names('positive')) {
    test(`positive/${name}: decodes to the expected headers and payload`, () => {
      const expected = fixtureJson(`${VECTORS}/decoded/positive/${name}`);
      const bytes = fixtureBytes(`${VECTORS}/encoded/positive/${name}`);
      assert.equal(bytes.byteLength, expected.total_length);
      const reader = new EventStreamReader();
      const messages = reader.push(bytes);
      assert.equal(reader.corrupt, null);
      assert.equal(messages.length, 1);
      const message = messages[0]!;
      assert.deepEqual(
        Object.entries(message.headers).map(([n, h]) => asVector(n, h)),
        expected.headers,
      );
      assert.equal(Buffer.from(message.body).toString('base64'), expected.payload);
    });

    test(`positive/${name}: re-encodes to the same bytes (CRCs included)`, () => {
      const bytes = fixtureBytes(`${VECTORS}/encoded/positive/${name}`);
      assert.deepEqual(Buffer.from(codec.encode(codec.decode(bytes))), bytes);
    });
  }

  for (const name of names('negative')) {
    test(`negative/${name}: rejected (${fixtureText(`${VECTORS}/decoded/negative/${name}`).trim()})`, () => {
      const bytes = fixtureBytes(`${VECTORS}/encoded/negative/${name}`);
      const reader = new EventStreamReader();
      const messages = reader.push(bytes);
      assert.equal(messages.length, 0);
      assert.ok(reader.corrupt !== null, 'the reader marks the stream corrupt at once (no waiting for a wrong length)');
      assert.match(reader.corrupt!, /checksum/);
      assert.throws(() => codec.decode(bytes));
    });
  }

  test('a recording split at every byte boundary decodes to the same messages as whole frames', () => {
    const frames = recordedFrames('bedrock/amazon-bedrock-reasoning.chunks.txt');
    const whole = Buffer.concat(frames);
    const reader = new EventStreamReader();
    const messages = [];
    for (let i = 0; i < whole.byteLength; i++) messages.push(...reader.push(whole.subarray(i, i + 1)));
    assert.equal(messages.length, frames.length);
    assert.equal(reader.pendingBytes, 0);
    assert.deepEqual(messages, frames.map((f) => codec.decode(f)));
  });
});
