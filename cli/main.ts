// capacity-tracker: the ledger from a terminal. Talks to the local runner unless told otherwise; a deployed
// stack's requests are signed with SigV4 from the usual AWS credential chain (lib/client/api-client.ts).
import { parseArgs, UsageError } from './args';
import { COMMANDS, ServiceError, type Io } from './commands';
import { PLACEMENT_COMMANDS } from './placement-commands';

/** `npm start` serves here unless PORT says otherwise. */
export const DEFAULT_ENDPOINT = 'http://localhost:3000';

export const USAGE = `Usage: capacity-tracker [--endpoint URL] [--json] COMMAND ...

  nodes                                every node with usage bars for vCPU, memory, disk and PCI
  node show NODE                       a node: usage, limits, PCI pools, NUMA cells, instances
  node put NODE --file INVENTORY.json  register a node or replace its inventory (--file - reads stdin)
  node delete NODE                     delete a node that tracks nothing
  claim NODE --flavor VCPUS:MB:GB[:EPHEMERAL_GB[:SWAP_MB]] [--uuid UUID]
        [--project ID] [--os-type TYPE] [--state VM_STATE] [--volume-backed] [--minimal]
        [--numa TOPOLOGY.json | --hw KEY=VALUE ...]
                                       claim an instance (a new UUID unless --uuid); --numa gives the
                                       guest's NUMA topology, --hw a flavor extra spec (repeatable,
                                       e.g. --hw hw:cpu_policy=dedicated); shows the fitted cells
  release NODE UUID                    release everything the instance holds
  migrate NODE --instance UUID --from SOURCE_NODE [--type resize|migration|evacuation|live-migration]
        [--flavor VCPUS:MB:GB] [--id MIGRATION] [--numa TOPOLOGY.json | --hw KEY=VALUE ...]
                                       claim NODE as the destination of a move (a live migration
                                       keeps the flavor, and starts accepted); --hw goes with --flavor
  status MIGRATION STATUS [--sequence N]
                                       a migration status update (finished, confirmed, reverted,
                                       or a live migration's queued, running, completed, ...)
  migration MIGRATION                  show a migration
  audit NODE [--file BODY.json]        recount the node and repair drift (a body with "migrations"
                                       releases holds of migrations no longer in progress)
  candidates --flavor VCPUS:MB:GB [--required T1,T2] [--forbidden T] [--member-of A1,A2]
        [--strategy spread|pack] [--group G] [--limit N]
                                       the nodes where it fits now, best first
  place --flavor VCPUS:MB:GB [--uuid UUID] [--group G] [--required ...] [--forbidden ...]
        [--member-of ...] [--strategy spread|pack]
                                       choose the best node and claim there
  group put G --policy affinity|anti-affinity|soft-affinity|soft-anti-affinity [--max-per-host N]
  group show G | group delete G        a server group and its members
  page [--port PORT]                   serve the capacity page here, calling the API at --endpoint
                                       (signed, so the browser needs no AWS credentials)

Options:
  --endpoint URL   the API (default $CAPACITY_TRACKER_ENDPOINT, else ${DEFAULT_ENDPOINT}); requests to
                   a non-local endpoint are signed with SigV4 (AWS_PROFILE, AWS_REGION etc. apply)
  --region REGION  the deployed API's region, when its host name does not say
  --json           print the API's answer as JSON
  --no-color       no colours (also NO_COLOR=1); colours are used only on a terminal
Exit status: 0 done, 1 the service refused or could not be reached, 2 a usage error.`;

function processIo(noColor: boolean): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8');
    },
    style: { color: !noColor && process.stdout.isTTY === true && !process.env.NO_COLOR },
  };
}

/** Why a request never got an answer, in a form a person can act on. */
function unreachable(error: unknown, endpoint: string): string | undefined {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return undefined;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? 'no answer';
  const hint = endpoint === DEFAULT_ENDPOINT ? ': is `npm start` running? Or pass --endpoint URL' : '';
  return `cannot reach ${endpoint} (${why})${hint}`;
}

export async function main(argv: string[], given?: Io): Promise<number> {
  let io = given ?? processIo(argv.includes('--no-color'));
  try {
    const args = parseArgs(argv);
    if (!given) io = processIo(args.flags.has('no-color'));
    const [command, ...words] = args.words;
    if (args.flags.has('help') || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    if (!command) {
      io.err(USAGE);
      return 2;
    }
    const endpoint = args.options.get('endpoint') ?? process.env.CAPACITY_TRACKER_ENDPOINT ?? DEFAULT_ENDPOINT;
    if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`--endpoint ${endpoint}: give an http:// or https:// URL`);
    // Loaded here, so that --help and usage errors do not wait for the AWS SDK. require, not import():
    // the bin's tsx hook compiles what CommonJS loads.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createApiClient } = require('../lib/client/api-client') as typeof import('../lib/client/api-client');
    const region = args.options.get('region');
    const api = createApiClient({ endpoint, ...(region ? { region } : {}) });
    if (command === 'page') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { servePage } = require('./page') as typeof import('./page');
      return await servePage({ api, io, port: Number(args.options.get('port') ?? 8080) });
    }
    const run = COMMANDS[command] ?? PLACEMENT_COMMANDS[command];
    if (!run) throw new UsageError(`unknown command ${command}; see capacity-tracker --help`);
    try {
      await run({ args, api, io }, words);
      return 0;
    } catch (error) {
      const reason = unreachable(error, endpoint);
      if (reason) throw new Error(reason, { cause: error });
      throw error;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`capacity-tracker: ${error.message}`);
      return 2;
    }
    if (error instanceof ServiceError && argv.includes('--json') && error.body !== undefined)
      io.out(JSON.stringify(error.body, null, 2));
    io.err(`capacity-tracker: ${(error as Error).message}`);
    return 1;
  }
}
