/** One measured number in the `npm run bench` table. */
export interface BenchRow {
  /** Which benchmark (e.g. "forward 7M", "sft 7M"). */
  bench: string;
  /** What was measured (e.g. "tokens/s", "peak RSS"). */
  metric: string;
  value: number;
  unit: string;
  /** The same quantity measured with the PyTorch reference on this machine, when there is one. */
  reference?: number;
  note?: string;
}
