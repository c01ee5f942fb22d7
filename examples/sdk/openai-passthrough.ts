/**
 * OpenAI's own API through the sidecar (native passthrough): base URL <sidecar>/openai/v1. The body
 * and answer are OpenAI's, untouched; only the key is swapped. Run: node examples/sdk/openai-passthrough.ts
 */
import OpenAI from 'openai';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): OpenAI {
  return new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: key });
}

export async function ask(openai = client()): Promise<string> {
  const reply = await openai.chat.completions.create({
    model: 'gpt-4.1-nano',
    messages: [{ role: 'user', content: 'Invent a new holiday.' }],
  });
  return reply.choices[0]?.message.content ?? '';
}

if (import.meta.main) console.log(await ask());
