/**
 * AzureOpenAI (from the openai package) through the sidecar: endpoint <sidecar>/azure, the
 * Tollbooth key as apiKey (sent as api-key). The deployment and api-version are yours, as with
 * Azure; Tollbooth's azure credential names the resource (base_url) and holds the real key.
 * Run: node examples/sdk/azure-openai.ts
 */
import { AzureOpenAI } from 'openai';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): AzureOpenAI {
  return new AzureOpenAI({ endpoint: `${url}/azure`, apiKey: key, apiVersion: '2024-10-21', deployment: 'gpt-5.1' });
}

export async function ask(azure = client()): Promise<string> {
  const reply = await azure.chat.completions.create({ model: 'gpt-5.1', messages: [{ role: 'user', content: 'Invent a new holiday.' }] });
  return reply.choices[0]?.message.content ?? '';
}

if (import.meta.main) console.log(await ask());
