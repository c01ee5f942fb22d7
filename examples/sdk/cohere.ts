/**
 * cohere-ai (v2 client) through the sidecar: environment <sidecar>/cohere, the Tollbooth key as token.
 * Run: node examples/sdk/cohere.ts
 */
import { CohereClientV2 } from 'cohere-ai';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): CohereClientV2 {
  return new CohereClientV2({ environment: `${url}/cohere`, token: key });
}

export async function ask(cohere = client()): Promise<string> {
  const response = await cohere.chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Invent a new holiday.' }] });
  return (response.message.content ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('');
}

if (import.meta.main) console.log(await ask());
