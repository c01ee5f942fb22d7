/** The real gateway with the bedrock credential set to the test AWS credential string. */
import { startTestGateway, type TestGateway, type TestGatewayOptions } from '../../support/gateway.ts';
import { TEST_AWS_CREDENTIAL_STRING } from './bedrock-upstream.ts';

const CREDENTIAL_ENV = 'TB_TEST_BEDROCK_AWS_CREDENTIAL';

export function startBedrockGateway(options: TestGatewayOptions, credentialString = TEST_AWS_CREDENTIAL_STRING): Promise<TestGateway> {
  return startTestGateway({
    ...options,
    env: { ...options.env, [CREDENTIAL_ENV]: credentialString },
    credentials: { ...options.credentials, bedrock: { secret: { env: CREDENTIAL_ENV }, ...options.credentials?.bedrock } },
  });
}
