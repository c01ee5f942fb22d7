/**
 * @aws-sdk/client-bedrock-runtime through the sidecar: endpoint <sidecar>/bedrock, the Tollbooth key
 * as a bearer token instead of AWS credentials (Tollbooth signs with its own, SigV4), and an
 * HTTP/1.1 handler: the SDK's default speaks HTTP/2, which the plain-http sidecar does not.
 * Run: node examples/sdk/bedrock.ts
 */
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { sidecar, type Sidecar } from './sidecar.ts';

export function client({ url, key }: Sidecar = sidecar()): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: `${url}/bedrock`,
    requestHandler: new NodeHttpHandler(),
    token: { token: key },
    authSchemePreference: ['httpBearerAuth'],
  });
}

export async function ask(bedrock = client()): Promise<string> {
  const response = await bedrock.send(
    new ConverseCommand({
      modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
      messages: [{ role: 'user', content: [{ text: 'Invent a new holiday.' }] }],
    }),
  );
  return (response.output?.message?.content ?? []).map((block) => block.text ?? '').join('');
}

if (import.meta.main) console.log(await ask());
