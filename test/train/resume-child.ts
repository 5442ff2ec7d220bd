/**
 * Child process for the resume test: runs SFT from a JSON config, sleeping after every step so
 * the parent can SIGKILL it mid-run. Usage: node --import tsx resume-child.ts <config.json> [--resume]
 */
import { readFileSync } from 'node:fs';
import { trainSft, validateSftConfig } from '../../src/train/sft.ts';

const cfg = validateSftConfig(JSON.parse(readFileSync(process.argv[2], 'utf8')), process.argv[2]);
await trainSft(cfg, {
  resume: process.argv.includes('--resume'),
  log: () => {},
  onStep: () => new Promise((r) => setTimeout(r, Number(process.env.STEP_SLEEP_MS ?? 0))),
});
