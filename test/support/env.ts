// The environment every test process runs in, set by the global setups before the workers start (they
// inherit it): the SDK and Powertools read it when they load.
export function setTestEnvironment(): void {
  process.env.AWS_REGION ??= 'us-east-1';
  // Lambda runs Node 22; the SDK's notice about Node 20 would only clutter local runs.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // The handlers enforce roles unless told they run open (docs/security.md, rule W5); tests of roles say who calls.
  process.env.AUTH ??= 'open';
}

// The global setup of the projects that need no DynamoDB Local (unit, infra): no Java needed.
export default async function globalSetup(): Promise<void> {
  setTestEnvironment();
}
