import { callerOfArn } from '../../../lib/api/roles';
import { httpEvent, lambdaContext, sqsRecord } from '../../../local/events';

test('an HTTP API event carries the route, the decoded path, the query, cookies apart and the body', () => {
  const event = httpEvent({
    method: 'PUT',
    route: '/nodes/{nodeId}',
    path: '/nodes/n 1',
    rawQueryString: 'a=1&a=2&b=x',
    pathParameters: { nodeId: 'n 1' },
    headers: { 'content-type': 'application/json', cookie: 'k=v; j=w', host: 'api.example.com' },
    body: Buffer.from('{"vcpus":4}'),
    sourceIp: '10.0.0.1',
  });
  expect(event).toMatchObject({
    version: '2.0',
    routeKey: 'PUT /nodes/{nodeId}',
    rawPath: '/nodes/n 1',
    rawQueryString: 'a=1&a=2&b=x',
    cookies: ['k=v', 'j=w'],
    queryStringParameters: { a: '1,2', b: 'x' },
    pathParameters: { nodeId: 'n 1' },
    body: '{"vcpus":4}',
    isBase64Encoded: false,
  });
  expect(event.headers).toEqual({
    'content-type': 'application/json',
    host: 'api.example.com',
    'x-forwarded-for': '10.0.0.1',
    'x-forwarded-proto': 'http',
  });
  expect(event.requestContext).toMatchObject({
    domainName: 'api.example.com',
    domainPrefix: 'api',
    stage: '$default',
    http: { method: 'PUT', sourceIp: '10.0.0.1' },
  });
  expect(event.requestContext.time).toMatch(/^\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
});

test('a body that is not text is base64; no body, no query and no parameters leave their fields out', () => {
  const binary = httpEvent({
    method: 'POST',
    route: '/x',
    path: '/x',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from([1, 2]),
  });
  expect(binary).toMatchObject({ body: 'AQI=', isBase64Encoded: true });
  const bare = httpEvent({ method: 'GET', route: '/nodes', path: '/nodes' });
  expect(bare).not.toHaveProperty('body');
  expect(bare).not.toHaveProperty('queryStringParameters');
  expect(bare).not.toHaveProperty('pathParameters');
  expect(bare).not.toHaveProperty('cookies');
  expect(bare.isBase64Encoded).toBe(false);
});

test('a Lambda context names the function of its entry and counts down from 30 s', () => {
  const context = lambdaContext('put-node');
  expect(context.functionName).toBe('capacity-tracker-put-node');
  expect(context.invokedFunctionArn).toMatch(/^arn:aws:lambda:[\w-]+:000000000000:function:capacity-tracker-put-node$/);
  expect(context.getRemainingTimeInMillis()).toBeGreaterThan(29_000);
  expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(30_000);
});

test('an SQS record carries the FIFO attributes', () => {
  const record = sqsRecord(
    { messageId: 'm', body: 'hi', groupId: 'g', deduplicationId: 'd', sequenceNumber: '1', sentAt: 5, receiveCount: 2 },
    'q.fifo',
  );
  expect(record.attributes).toMatchObject({
    ApproximateReceiveCount: '2',
    SentTimestamp: '5',
    ApproximateFirstReceiveTimestamp: '5',
    MessageGroupId: 'g',
    MessageDeduplicationId: 'd',
    SequenceNumber: '1',
  });
  expect(record.eventSourceARN).toMatch(/:000000000000:q\.fifo$/);
  expect(record.md5OfBody).toBe('49f68a5c8493ec2c0bf489821c21fc3b');
});

test("an identity becomes the IAM authorizer's caller, which the handlers read as that role (rule W5)", () => {
  const event = httpEvent({
    method: 'GET',
    route: '/nodes/{nodeId}',
    path: '/nodes/n1',
    pathParameters: { nodeId: 'n1' },
    identity: { role: 'agent', session: 'n1' },
  });
  const { authorizer } = event.requestContext as typeof event.requestContext & {
    authorizer?: { iam?: { userArn?: string } };
  };
  expect(callerOfArn(authorizer?.iam?.userArn)).toEqual({ role: 'agent', nodeId: 'n1' });
  const bare = httpEvent({ method: 'GET', route: '/nodes', path: '/nodes' });
  expect('authorizer' in bare.requestContext).toBe(false);
});
