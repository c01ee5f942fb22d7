/**
 * The Gemini translator's pieces, where no recording exercises them: thought summaries
 * (`thought: true` parts — every recording here was made without includeThoughts, so the bodies
 * below are written from the documented shape), the Gemini 2.5 thinking budget, nested streamed
 * arguments and the native request description.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Target } from '../../../src/routing/target.ts';
import { describeGeminiRequest } from '../../../src/providers/gemini/native.ts';
import { PartialArgs } from '../../../src/providers/gemini/partial-args.ts';
import { toGenerateContent } from '../../../src/providers/gemini/request.ts';
import { toChatCompletion } from '../../../src/providers/gemini/response.ts';
import { GeminiStream } from '../../../src/providers/gemini/stream.ts';
import { loadTestCatalog } from '../../support/catalog.ts';

const ask = { messages: [{ role: 'user', content: 'Hi' }] };

/** Documented shape of a thinking answer with includeThoughts (ai.google.dev/gemini-api/docs/thinking). */
const THOUGHTFUL = {
  candidates: [
    {
      content: { role: 'model', parts: [{ text: 'Counting the letters one by one.', thought: true }, { text: 'There are 3.' }] },
      finishReason: 'STOP',
    },
  ],
  usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 5, thoughtsTokenCount: 40 },
  responseId: 'r1',
};

function target(): Target {
  const provider = loadTestCatalog().provider('gemini')!;
  return { provider, model: null, upstreamModel: 'gemini-3.8-flash', baseUrl: 'http://127.0.0.1:1', credential: { secret: null } } as unknown as Target;
}

describe('Gemini translation', () => {
  test('thought parts become reasoning_content, apart from the answer', () => {
    const body = JSON.parse(toChatCompletion(THOUGHTFUL, 'gemini-3.8-flash').body);
    assert.equal(body.choices[0].message.content, 'There are 3.');
    assert.equal(body.choices[0].message.reasoning_content, 'Counting the letters one by one.');
    assert.deepEqual(body.usage.completion_tokens_details, { reasoning_tokens: 40 });
    assert.equal(body.usage.completion_tokens, 45);
  });

  test('streamed thought parts become reasoning_content deltas', () => {
    const stream = new GeminiStream(target(), { emit: true, includeUsage: false, model: 'gemini-3.8-flash' });
    const out = stream.push(Buffer.from(`data: ${JSON.stringify(THOUGHTFUL)}\r\n\r\n`)) + stream.finish();
    const chunks = out.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
    const deltas = chunks.map((c) => c.choices[0]?.delta);
    assert.equal(deltas.map((d) => d?.reasoning_content ?? '').join(''), 'Counting the letters one by one.');
    assert.equal(deltas.map((d) => d?.content ?? '').join(''), 'There are 3.');
    assert.ok(out.endsWith('data: [DONE]\n\n'));
    assert.equal(stream.outcome, 'complete');
    assert.equal(stream.usage?.completion_tokens, 45);
  });

  test('reasoning_effort: a budget for Gemini 2.5, a level for Gemini 3, nothing before 2.5', () => {
    const config = (model: string, effort: string) => (toGenerateContent({ ...ask, reasoning_effort: effort }, model).generationConfig as any)?.thinkingConfig;
    assert.deepEqual(config('gemini-2.5-flash', 'none'), { thinkingBudget: 0, includeThoughts: false });
    assert.deepEqual(config('gemini-2.5-pro', 'medium'), { thinkingBudget: 8192, includeThoughts: true });
    assert.deepEqual(config('gemini-3.1-pro-preview', 'low'), { thinkingLevel: 'low', includeThoughts: true });
    assert.deepEqual(config('gemini-3.8-flash', 'xhigh'), { thinkingLevel: 'high', includeThoughts: true });
    assert.equal(config('gemini-2.0-flash', 'high'), undefined);
    assert.throws(() => config('gemini-3.8-flash', 'max'), /reasoning_effort/);
  });

  test('a tool result that answers no earlier tool call is refused', () => {
    assert.throws(() => toGenerateContent({ messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }, 'gemini-3.8-flash'), /answers no earlier/);
  });

  test('streamed arguments at nested JSON paths are rebuilt (strings in pieces, arrays by index)', () => {
    const args = new PartialArgs();
    args.apply([{ jsonPath: '$.recipe.ingredients[0].amount', stringValue: '16 ', willContinue: true }]);
    args.apply([{ jsonPath: '$.recipe.ingredients[0].amount', stringValue: 'oz' }]);
    args.apply([{ jsonPath: '$.recipe.ingredients[1].name', stringValue: 'Beef' }]);
    args.apply([{ jsonPath: '$.recipe.servings', numberValue: 4 }, { jsonPath: "$['vegetarian']", boolValue: false }]);
    assert.deepEqual(args.value, { recipe: { ingredients: [{ amount: '16 oz' }, { name: 'Beef' }], servings: 4 }, vegetarian: false });
  });

  test('a native request is described from its path', () => {
    assert.deepEqual(describeGeminiRequest('/v1beta/models/gemini-3.8-flash:streamGenerateContent'), {
      info: { operation: 'chat', upstreamModel: 'gemini-3.8-flash', stream: true },
      billed: true,
    });
    assert.deepEqual(describeGeminiRequest('/v1/models/gemini-embedding-001%3AbatchEmbedContents'), {
      info: { operation: 'embeddings', upstreamModel: 'gemini-embedding-001', stream: false },
      billed: true,
    });
    assert.equal(describeGeminiRequest('/v1beta/models/gemini-3.8-flash:countTokens').billed, false);
    assert.equal(describeGeminiRequest('/v1beta/models/gemini-3.8-flash').billed, false);
    assert.equal(describeGeminiRequest('/v1beta/models').billed, false);
  });
});
