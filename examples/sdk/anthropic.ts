/**
 * @anthropic-ai/sdk through the sidecar: base URL <sidecar>/anthropic (the SDK adds /v1/messages).
 * The Tollbooth key goes where the Anthropic key would (x-api-key; authToken/Bearer works too).
 * Run: node examples/sdk/anthropic.ts
 */
import Anthropic from '@anthropic-ai/sdk';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): Anthropic {
  return new Anthropic({ baseURL: `${url}/anthropic`, apiKey: key });
}

export async function ask(anthropic = client()): Promise<string> {
  const message = await anthropic.messages.create({
    model: 'claude-sonnet-4-6',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Invent a new holiday.' }],
  });
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

if (import.meta.main) console.log(await ask());
