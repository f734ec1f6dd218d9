// The CLI without a server: arguments, bars, and the requests it sends (signed for a deployed stack).
import { parseArgs, parseFlavor, UsageError } from '../../../cli/args';
import { main } from '../../../cli/main';
import { bar } from '../../../cli/render';
import { memoryIo } from '../../support/cli-io';

describe('arguments', () => {
  it('takes options anywhere, in both spellings', () => {
    const args = parseArgs(['claim', '--json', 'n1', '--flavor=2:2048:20', '--uuid', 'u']);
    expect(args.words).toEqual(['claim', 'n1']);
    expect(Object.fromEntries(args.options)).toEqual({ flavor: '2:2048:20', uuid: 'u' });
    expect([...args.flags]).toEqual(['json']);
  });

  it('reads a flavor as VCPUS:MB:GB[:EPHEMERAL[:SWAP]]', () => {
    expect(parseFlavor('2:2048:20')).toEqual({ vcpus: 2, memoryMb: 2048, rootGb: 20, ephemeralGb: 0, swapMb: 0 });
    expect(parseFlavor('1:512:1:2:256')).toEqual({ vcpus: 1, memoryMb: 512, rootGb: 1, ephemeralGb: 2, swapMb: 256 });
    for (const bad of ['2:2048', '2:2048:x', '-1:1:1', '1:1:1:1:1:1'])
      expect(() => parseFlavor(bad)).toThrow(UsageError);
  });

  it('refuses unknown options and options without their value', () => {
    expect(() => parseArgs(['nodes', '--wat'])).toThrow('unknown option --wat');
    expect(() => parseArgs(['claim', 'n', '--flavor'])).toThrow('--flavor needs a value');
  });
});

describe('bars', () => {
  const style = { color: false };
  it('shows used, free physical room and the room the ratio adds, over ten cells', () => {
    expect(bar(style, { total: 512, reserved: 0, used: 128, limit: 768 })).toBe('█▋░░░░░···');
    expect(bar(style, { total: 100, reserved: 0, used: 100, limit: 100 })).toBe('██████████');
    expect(bar(style, { total: 4, reserved: 0, used: 0, limit: 64 })).toBe('░·········');
  });
  it('never hides some use behind an empty bar', () => {
    expect(bar(style, { total: 1000, reserved: 0, used: 1, limit: 16000 })).toMatch(/^▏/);
  });
  it('colours only when asked', () => {
    expect(bar({ color: true }, { total: 10, reserved: 0, used: 10, limit: 10 })).toContain('\x1b[31m');
  });
});

describe('requests', () => {
  const saved = { ...process.env };
  let fetchSpy: jest.SpyInstance;
  beforeEach(() => {
    fetchSpy = jest
      .spyOn(globalThis, 'fetch')
      .mockResolvedValue(new Response(JSON.stringify({ nodes: [] }), { status: 200 }));
  });
  afterEach(() => {
    fetchSpy.mockRestore();
    process.env = { ...saved };
  });

  const sent = () => {
    const [url, init] = fetchSpy.mock.calls[0] as [URL, RequestInit];
    return { url: String(url), headers: init.headers as Record<string, string> };
  };

  it('lists every node across the pages GET /nodes answers', async () => {
    delete process.env.CAPACITY_TRACKER_ENDPOINT;
    const view = (nodeId: string) => ({ nodeId, vcpus: 1, memoryMb: 1, localGb: 1, stats: {} });
    fetchSpy
      .mockResolvedValueOnce(new Response(JSON.stringify({ nodes: [view('a')], next: 'YQ' }), { status: 200 }))
      .mockResolvedValueOnce(new Response(JSON.stringify({ nodes: [view('b')] }), { status: 200 }));
    const io = memoryIo();
    expect(await main(['nodes', '--json'], io)).toBe(0);
    expect(fetchSpy.mock.calls.map(([url]) => String(url))).toEqual([
      'http://localhost:3000/nodes',
      'http://localhost:3000/nodes?next=YQ',
    ]);
    expect(JSON.parse(io.stdout.join('\n')).nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(['a', 'b']);
  });

  it('goes to the local runner by default, unsigned', async () => {
    delete process.env.CAPACITY_TRACKER_ENDPOINT;
    const io = memoryIo();
    expect(await main(['nodes'], io)).toBe(0);
    expect(sent().url).toBe('http://localhost:3000/nodes');
    expect(sent().headers.authorization).toBeUndefined();
    expect(io.stdout).toEqual(['No nodes are registered.']);
  });

  it('signs requests to a deployed stack with SigV4 from the credential chain', async () => {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
    });
    delete process.env.AWS_PROFILE;
    const endpoint = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    expect(await main(['--endpoint', endpoint, 'nodes', '--json'], memoryIo())).toBe(0);
    expect(sent().url).toBe(`${endpoint}/nodes`);
    expect(sent().headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=.*host/,
    );
    expect(sent().headers['x-amz-security-token']).toBe('token');
  });

  it('reads the endpoint from CAPACITY_TRACKER_ENDPOINT', async () => {
    process.env.CAPACITY_TRACKER_ENDPOINT = 'http://127.0.0.1:4555';
    await main(['nodes'], memoryIo());
    expect(sent().url).toBe('http://127.0.0.1:4555/nodes');
  });

  it.each([
    [
      'the service refuses it',
      () =>
        Promise.resolve(
          new Response(JSON.stringify({ error: 'InsufficientResources', message: 'Free vcpu 0 < requested 1' }), {
            status: 409,
          }),
        ),
    ],
    ['no answer comes', () => Promise.reject(new TypeError('fetch failed'))],
  ])('prints the instance UUID it chose for a claim when %s, so the claim can be retried', async (_what, answer) => {
    delete process.env.CAPACITY_TRACKER_ENDPOINT;
    fetchSpy.mockImplementation(answer);
    const io = memoryIo();
    expect(await main(['claim', 'n1', '--flavor', '1:128:1'], io)).toBe(1);
    const [, init] = fetchSpy.mock.calls[0] as [URL, RequestInit];
    const { instanceUuid } = JSON.parse(String(init.body)) as { instanceUuid: string };
    expect(instanceUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(io.stderr).toContain(`The claim used instance UUID ${instanceUuid}: retry it with --uuid ${instanceUuid}.`);
  });

  it('says nothing more of a UUID given with --uuid', async () => {
    fetchSpy.mockRejectedValue(new TypeError('fetch failed'));
    const io = memoryIo();
    expect(
      await main(['claim', 'n1', '--flavor', '1:128:1', '--uuid', '6f1d1a8e-1c2b-4c55-9c1e-000000000001'], io),
    ).toBe(1);
    expect(io.stderr.join('\n')).not.toContain('The claim used instance UUID');
  });

  it("prints the service's error and the body with --json, exiting 1", async () => {
    fetchSpy.mockResolvedValue(
      new Response(JSON.stringify({ error: 'NodeNotFound', message: 'Node x is not registered.' }), { status: 404 }),
    );
    const io = memoryIo();
    expect(await main(['node', 'show', 'x', '--json'], io)).toBe(1);
    expect(io.stderr).toEqual(['capacity-tracker: NodeNotFound: Node x is not registered.']);
    expect(JSON.parse(io.stdout[0] ?? '')).toEqual({ error: 'NodeNotFound', message: 'Node x is not registered.' });
  });
});
