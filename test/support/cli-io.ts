// The CLI's input and output in memory, for tests that run `main` and read what it printed.
import type { Io } from '../../cli/commands';

export function memoryIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    readStdin: async () => '',
    style: { color: false },
  };
}
