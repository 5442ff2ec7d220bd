/**
 * Per-stage progress on stderr: a redrawn bar when stderr is a TTY, otherwise one line every
 * `intervalMs` (CI logs stay readable). `off` prints nothing.
 */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'off';

export class Progress {
  private n = 0;
  private readonly t0 = Date.now();
  private last = Date.now();
  private readonly mode: 'bar' | 'lines' | 'off';
  private readonly intervalMs: number;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    mode: ProgressMode = 'auto',
    private readonly stream: NodeJS.WriteStream = process.stderr,
    intervalMs?: number,
  ) {
    this.mode = mode === 'auto' ? (stream.isTTY ? 'bar' : 'lines') : mode;
    // A bar redraws 10 times a second; plain lines (CI logs) come every 10 s.
    this.intervalMs = intervalMs ?? (this.mode === 'bar' ? 100 : 10_000);
  }

  tick(k = 1): void {
    this.n += k;
    if (this.mode === 'off') return;
    const now = Date.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.render(false);
  }

  done(): void {
    if (this.mode === 'bar') {
      this.render(true);
      this.stream.write('\n');
    }
  }

  private render(final: boolean): void {
    const secs = Math.max((Date.now() - this.t0) / 1000, 1e-3);
    const rate = this.n / secs;
    const of = this.total ? `/${this.total}` : '';
    if (this.mode === 'bar') {
      const width = 30;
      const frac = this.total ? Math.min(1, this.n / this.total) : 0;
      const filled = Math.round(frac * width);
      const bar = this.total ? `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
      this.stream.write(`\r${this.label} ${bar}${this.n}${of} rows ${rate.toFixed(0)} rows/s${final ? ` ${secs.toFixed(1)} s` : ''}\x1b[K`);
    } else {
      this.stream.write(`${this.label}: ${this.n}${of} rows, ${rate.toFixed(0)} rows/s\n`);
    }
  }
}
