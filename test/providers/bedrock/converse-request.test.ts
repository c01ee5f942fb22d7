/** Unified chat request → Converse: the mapping rules the end-to-end tests do not reach. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../../src/errors/catalog.ts';
import { converseRequest } from '../../../src/providers/bedrock/converse-request.ts';

const CLAUDE = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const TOOLS = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }];

function rejects(body: Record<string, unknown>, param: string): void {
  assert.throws(() => converseRequest(body, CLAUDE, null), (err: unknown) => err instanceof GatewayError && err.code === 'invalid_request' && err.param === param);
}

describe('Converse request mapping', () => {
  test('developer messages join the system blocks; a string stop becomes one stop sequence', () => {
    const out = converseRequest(
      { messages: [{ role: 'developer', content: [{ type: 'text', text: 'Be kind.' }] }, { role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], stop: 'END', max_completion_tokens: 50 },
      CLAUDE,
      null,
    );
    assert.deepEqual(out.system, [{ text: 'Be kind.' }, { text: 'Be brief.' }]);
    assert.deepEqual(out.inferenceConfig, { maxTokens: 50, stopSequences: ['END'] });
  });

  test("tool_choice 'none': tools are left out without tool history, kept (without a choice) with it", () => {
    const fresh = converseRequest({ messages: [{ role: 'user', content: 'Hi' }], tools: TOOLS, tool_choice: 'none' }, CLAUDE, null);
    assert.equal(fresh.toolConfig, undefined);
    const withHistory = converseRequest(
      {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'weather', arguments: '' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'sunny' },
        ],
        tools: TOOLS,
        tool_choice: 'none',
      },
      CLAUDE,
      null,
    );
    assert.deepEqual(withHistory.toolConfig, { tools: [{ toolSpec: { name: 'weather', inputSchema: { json: { type: 'object', properties: {} } } } }] });
    assert.deepEqual((withHistory.messages as { content: unknown[] }[])[1]!.content, [{ toolUse: { toolUseId: 't1', name: 'weather', input: {} } }]);
    assert.deepEqual(converseRequest({ messages: [{ role: 'user', content: 'Hi' }], tools: TOOLS, tool_choice: 'auto' }, CLAUDE, null).toolConfig, {
      tools: [{ toolSpec: { name: 'weather', inputSchema: { json: { type: 'object', properties: {} } } } }],
      toolChoice: { auto: {} },
    });
  });

  test('image formats: jpg is jpeg; remote URLs and unknown formats are refused with the part named', () => {
    const out = converseRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpg;base64,AAAA' } }] }] }, CLAUDE, null);
    assert.deepEqual((out.messages as { content: unknown[] }[])[0]!.content, [{ image: { format: 'jpeg', source: { bytes: 'AAAA' } } }]);
    rejects({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, 'messages[0].content[0]');
    rejects({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }] }] }, 'messages[0].content[0]');
  });

  test('what Converse cannot express is a clear 400: n > 1, bad tool-call arguments, a tool message without its id', () => {
    rejects({ messages: [{ role: 'user', content: 'Hi' }], n: 2 }, 'n');
    rejects({ messages: [{ role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'w', arguments: '{oops' } }] }] }, 'messages[0].tool_calls[0].function.arguments');
    rejects({ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id');
  });

  test('reasoning_effort: Claude gets a budget under max_tokens; Nova 2 its effort level; others nothing', () => {
    const claude = converseRequest({ messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high', max_tokens: 8000 }, CLAUDE, 64000);
    assert.deepEqual(claude.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 7999 } });
    const unset = converseRequest({ messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high' }, CLAUDE, 10000);
    assert.equal((unset.inferenceConfig as { maxTokens: number }).maxTokens, 10000, 'capped at the model’s max output');
    assert.equal((unset.additionalModelRequestFields as { thinking: { budget_tokens: number } }).thinking.budget_tokens, 10000 - 4096, 'the answer keeps its room');
    const nova = converseRequest({ messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'medium' }, 'us.amazon.nova-2-lite-v1:0', null);
    assert.deepEqual(nova.additionalModelRequestFields, { reasoningConfig: { type: 'enabled', maxReasoningEffort: 'medium' } });
    assert.equal(converseRequest({ messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'low' }, 'meta.llama3-70b-instruct-v1:0', null).additionalModelRequestFields, undefined);
  });
});
