// A progress line for long commands (bench, soak): redrawn in place on a terminal with the rate and an ETA,
// and nothing at all when the output is a file or a pipe, or CI is set, so logs stay clean.

export interface Progress {
  /** Redraws now and then from `done()`; call `end()` when the work is over. */
  end(): void;
}

let enabled = Boolean(process.stderr.isTTY) && !process.env.CI;
let current: Progress | undefined;

/** Stops any progress line for good (on SIGINT, before the command reports why it stops). */
export function silenceProgress(): void {
  current?.end();
  enabled = false;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The text of one progress line: what, how far, how fast, how long still. */
export function progressLine(label: string, done: number, total: number, seconds: number): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
  const eta = rate > 0 ? duration((total - done) / rate) : '?';
  return `${label}: ${done}/${total} (${percent}%, ${Math.round(rate)}/s, ETA ${eta})`;
}

/** Shows `label: done/total (…/s, ETA …)` on stderr every 200 ms while the work runs. */
export function showProgress(label: string, total: number, done: () => number): Progress {
  current?.end();
  if (!enabled) return (current = { end() {} });
  const start = performance.now();
  const draw = () =>
    process.stderr.write(`\r\x1b[K  ${progressLine(label, done(), total, (performance.now() - start) / 1000)}`);
  const timer = setInterval(draw, 200);
  let ended = false;
  const progress: Progress = {
    end() {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      process.stderr.write('\r\x1b[K');
      if (current === progress) current = undefined;
    },
  };
  return (current = progress);
}
