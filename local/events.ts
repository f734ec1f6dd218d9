// The one builder of what AWS hands a Lambda function here: API Gateway HTTP API (payload format 2.0)
// events, Lambda contexts and SQS records. The local server, the local queue, the bench and the tests use
// it, so that the handlers see the same shapes wherever they run outside AWS.
import { createHash, randomUUID } from 'node:crypto';
import type {
  APIGatewayEventRequestContextIAMAuthorizer,
  APIGatewayProxyEventV2,
  Context,
  SQSRecord,
} from 'aws-lambda';
import { roleNames, type Role } from '../lib/api/roles';

export const LOCAL_ACCOUNT_ID = '000000000000';
const LOCAL_API_ID = 'local';
/** API Gateway gives up on an integration after 30 s; the handlers see that as their deadline. */
const TIMEOUT_MS = 30_000;

const region = () => process.env.AWS_REGION ?? 'us-east-1';

/** One request routed to a handler, before it becomes an event. */
export interface HttpEventInput {
  method: string;
  /** The route's path template, e.g. `/nodes/{nodeId}`. */
  route: string;
  /** The path as the handler sees it (HTTP API percent-decodes it). */
  path: string;
  rawQueryString?: string;
  pathParameters?: Record<string, string>;
  /** Header values, lower-case names; repeated headers already joined by commas, `cookie` by semicolons. */
  headers?: Record<string, string>;
  body?: Buffer | string;
  sourceIp?: string;
  protocol?: string;
  /** The IAM caller, as API Gateway's IAM authorizer reports it; none by default (the local runner runs open). */
  identity?: Identity;
}

/** A session of one of the stack's roles; an agent's session name is its node id (docs/security.md). */
export interface Identity {
  role: Role;
  session: string;
  /** The IAM role's name when it is not the one the stack names for `role` (tests of refused callers). */
  roleName?: string;
}

/** What the IAM authorizer adds to the request context for an assumed role's session. */
function iamAuthorizer({
  role,
  session,
  roleName = roleNames()[role],
}: Identity): APIGatewayEventRequestContextIAMAuthorizer {
  return {
    iam: {
      accessKey: 'ASIALOCALEXAMPLE0000',
      accountId: LOCAL_ACCOUNT_ID,
      callerId: `AROALOCALEXAMPLE0000:${session}`,
      cognitoIdentity: null,
      principalOrgId: '',
      userArn: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${roleName}/${session}`,
      userId: `AROALOCALEXAMPLE0000:${session}`,
    },
  };
}

const isText = (contentType = '') =>
  contentType === '' ||
  /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)/i.test(contentType);

/** API Gateway's request time, e.g. 12/Mar/2020:19:03:58 +0000. */
function requestTime(date: Date): string {
  const [, day, month, year, time] = date.toUTCString().split(' ');
  return `${day}/${month}/${year}:${time} +0000`;
}

/** Format 2.0 joins a repeated query parameter's values with commas. */
function queryParameters(rawQueryString: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  return query;
}

/** The headers as format 2.0 passes them: cookies apart, the forwarding headers API Gateway adds. */
function eventHeaders(input: HttpEventInput, sourceIp: string): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {}))
    if (name !== 'cookie') headers[name.toLowerCase()] = value;
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const cookies = (input.headers?.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean);
  return { headers, cookies };
}

export function httpEvent(input: HttpEventInput): APIGatewayProxyEventV2 {
  const sourceIp = input.sourceIp ?? '127.0.0.1';
  const { headers, cookies } = eventHeaders(input, sourceIp);
  const rawQueryString = input.rawQueryString ?? '';
  const pathParameters = input.pathParameters ?? {};
  const routeKey = `${input.method} ${input.route}`;
  const now = new Date();
  const body = typeof input.body === 'string' ? Buffer.from(input.body) : (input.body ?? Buffer.alloc(0));
  const base64 = !isText(headers['content-type']);
  const domainName = headers.host ?? 'localhost';
  return {
    version: '2.0',
    routeKey,
    rawPath: input.path,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(rawQueryString !== '' ? { queryStringParameters: queryParameters(rawQueryString) } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: input.method,
        path: input.path,
        protocol: input.protocol ?? 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
      ...(input.identity ? { authorizer: iamAuthorizer(input.identity) } : {}),
    },
    ...(body.length > 0 ? { body: body.toString(base64 ? 'base64' : 'utf8') } : {}),
    isBase64Encoded: base64 && body.length > 0,
  };
}

/** The context Lambda gives the function of `entry` (a file of functions/), its deadline 30 s from now. */
export function lambdaContext(entry: string): Context {
  const deadline = Date.now() + TIMEOUT_MS;
  const functionName = `capacity-tracker-${entry}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region()}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A queued message as far as its SQS record shows it. */
export interface RecordedMessage {
  messageId: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  sequenceNumber: string;
  sentAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
}

/** The record Lambda's SQS event source hands the function for one received message of a FIFO queue. */
export function sqsRecord(m: RecordedMessage, queueName = 'migration-status.fifo'): SQSRecord {
  return {
    messageId: m.messageId,
    receiptHandle: Buffer.from(`${m.messageId} ${randomUUID()}`).toString('base64'),
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt),
      SenderId: LOCAL_ACCOUNT_ID,
      ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt),
      SequenceNumber: m.sequenceNumber,
      MessageGroupId: m.groupId,
      MessageDeduplicationId: m.deduplicationId,
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(m.body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region()}:${LOCAL_ACCOUNT_ID}:${queueName}`,
    awsRegion: region(),
  };
}
