/**
 * The unified API with the openai SDK: base URL <sidecar>/v1, any catalog model_id (GET /v1/models),
 * whichever provider serves it. Run: node examples/sdk/openai-unified.ts
 */
import OpenAI from 'openai';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: key });
}

export async function ask(openai = client()): Promise<string> {
  const reply = await openai.chat.completions.create({
    model: 'gpt-4.1-nano',
    messages: [{ role: 'user', content: 'Invent a new holiday.' }],
  });
  return reply.choices[0]?.message.content ?? '';
}

if (import.meta.main) console.log(await ask());
