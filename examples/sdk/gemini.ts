/**
 * @google/genai through the sidecar: httpOptions.baseUrl <sidecar>/gemini, the Tollbooth key as
 * apiKey (sent as x-goog-api-key; a ?key= is accepted and never forwarded).
 * Run: node examples/sdk/gemini.ts
 */
import { GoogleGenAI } from '@google/genai';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): GoogleGenAI {
  return new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: `${url}/gemini` } });
}

export async function ask(genai = client()): Promise<string> {
  const response = await genai.models.generateContent({ model: 'gemini-3.8-flash', contents: 'Invent a new holiday.' });
  return response.text ?? '';
}

if (import.meta.main) console.log(await ask());
