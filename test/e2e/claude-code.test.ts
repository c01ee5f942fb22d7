/**
 * Claude Code itself, pointed at Tollbooth with ANTHROPIC_BASE_URL, completing a turn with a tool
 * round trip through POST /v1/messages to a non-Anthropic provider (OpenAI, bridged), the way a
 * user runs it: `claude -p … --allowedTools 'Bash(echo …)'`, non-interactive, telemetry and
 * non-essential traffic off, on loopback. Claude Code's own model names land on a catalog model by
 * `anthropic_model_map`. The fake OpenAI answers in the chat-completions stream shape of the
 * recordings (openai/openai-text.chunks.txt, azure/azure-tool-call.1.chunks.txt), written here with
 * the Bash call Claude Code can run, then the final text once the tool's output comes back.
 *
 * Needs the Claude Code binary (npm `@anthropic-ai/claude-code`, ~400 MB): `bash .ci/run` installs it
 * and sets TOLLBOOTH_TEST_CLAUDE_CODE; without it the test is skipped and says why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream, type Reply, type SeenRequest } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../support/gateway.ts';

const CLAUDE = process.env.TOLLBOOTH_TEST_CLAUDE_CODE ?? null;
const SKIP = CLAUDE ? false : 'needs the Claude Code binary: set TOLLBOOTH_TEST_CLAUDE_CODE (bash .ci/run installs @anthropic-ai/claude-code)';
const MARKER = 'tollbooth-e2e-7f3a';
const MODEL = 'gpt-6-luna';

/** One chat-completion chunk in the recorded shape. */
function chunk(delta: Record<string, unknown>, finish: string | null = null, usage: unknown = null): string {
  const body = { id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1770933892, model: 'gpt-6-luna', choices: [{ index: 0, delta, finish_reason: finish }], usage };
  return `data: ${JSON.stringify(body)}\n\n`;
}

function streamed(deltas: Record<string, unknown>[], finish: string, usage: { prompt_tokens: number; completion_tokens: number }): Reply {
  return {
    headers: { 'content-type': 'text/event-stream' },
    frames: [
      chunk({ role: 'assistant', content: '' }),
      ...deltas.map((d) => chunk(d)),
      chunk({}, finish),
      // The usage chunk Tollbooth asked for (stream_options.include_usage): empty choices.
      `data: ${JSON.stringify({ id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1770933892, model: 'gpt-6-luna', choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`,
      'data: [DONE]\n\n',
    ],
  };
}

function answer(text: string, usage = { prompt_tokens: 900, completion_tokens: 12 }): (stream: boolean) => Reply {
  return (stream) =>
    stream
      ? streamed([{ content: text }], 'stop', usage)
      : { json: { id: 'chatcmpl-e2e', object: 'chat.completion', created: 1770933892, model: 'gpt-6-luna', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } };
}

/** What the fake OpenAI says to each request Claude Code's turn makes (through the bridge). */
function reply(req: SeenRequest): Reply {
  const body = req.json();
  const stream = body.stream === true;
  const toolResult = (body.messages as { role: string; content: unknown }[]).find((m) => m.role === 'tool');
  if (toolResult) return answer(`The command printed ${MARKER}.`, { prompt_tokens: 1400, completion_tokens: 9 })(stream);
  const hasBash = (body.tools as { function: { name: string } }[] | undefined)?.some((t) => t.function.name === 'Bash');
  if (!hasBash) return answer('Tollbooth e2e')(stream);
  const args = JSON.stringify({ command: `echo ${MARKER}`, description: 'Print the marker' });
  const call = (delta: Record<string, unknown>) => ({ tool_calls: [{ index: 0, ...delta }] });
  const deltas = [call({ id: 'call_e2e_1', type: 'function', function: { name: 'Bash', arguments: '' } }), call({ function: { arguments: args.slice(0, 20) } }), call({ function: { arguments: args.slice(20) } })];
  if (stream) return streamed(deltas, 'tool_calls', { prompt_tokens: 1300, completion_tokens: 30 });
  return { json: { id: 'chatcmpl-e2e', object: 'chat.completion', created: 1770933892, model: 'gpt-6-luna', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_e2e_1', type: 'function', function: { name: 'Bash', arguments: args } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 1300, completion_tokens: 30, total_tokens: 1330 } } };
}

describe('Claude Code through Tollbooth to a non-Anthropic provider', { skip: SKIP }, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let home: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', reply);
    gw = await startTestGateway({ upstream, config: { anthropic_model_map: { 'claude-*': MODEL } } });
    home = mkdtempSync(join(tmpdir(), 'tollbooth-claude-code-'));
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('claude -p runs the Bash tool and answers with its output; every call charged, the managed key upstream', async () => {
    const child = spawn(
      CLAUDE!,
      ['-p', `Run \`echo ${MARKER}\` with the Bash tool, then tell me what it printed.`, '--allowedTools', `Bash(echo ${MARKER})`, '--output-format', 'json', '--model', 'claude-sonnet-4-5'],
      {
        cwd: home,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          ANTHROPIC_BASE_URL: gw.url,
          // As the README shows it: the Tollbooth key as a bearer token.
          ANTHROPIC_AUTH_TOKEN: CALLER_KEYS.member,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_AUTOUPDATER: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_ERROR_REPORTING: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, `claude exited ${code}\nstdout: ${stdout}\nstderr: ${stderr}`);
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(result.is_error, false, stdout);
    assert.match(result.result, new RegExp(MARKER), 'the final answer carries the tool output');

    const calls = upstream.requests.filter((r) => r.path === '/v1/chat/completions');
    const toolTurn = calls.find((r) => (r.json().messages as { role: string; content: unknown }[]).some((m) => m.role === 'tool'));
    assert.ok(toolTurn, 'the tool result came back through the bridge');
    const toolMessage = (toolTurn.json().messages as { role: string; content: unknown }[]).find((m) => m.role === 'tool')!;
    // What `echo` printed, as Claude Code's Bash tool returned it (a refusal would be a message instead).
    assert.match(String(toolMessage.content), new RegExp(`^${MARKER}\\n`), 'the Bash output reached the provider');
    for (const r of calls) {
      assert.equal(r.headers.authorization, `Bearer ${providerKey('openai')}`, 'the managed key upstream');
      assert.equal(r.json().model, gw.catalog().resolve(MODEL).model.upstream_model);
    }

    const charges = (await gw.usage()).filter((c) => c.api === 'unified' && c.model === MODEL);
    assert.equal(charges.length, calls.length, 'one charge per call Claude Code made');
    assert.ok(charges.every((c) => c.requested_model?.startsWith('claude-') && Number(c.credits) > 1), 'charged, under the name Claude Code asked for');
  });
});
