import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_KOREAN_CORPUS, initModelDir } from '../../src/model/init.ts';
import { repoRoot, runCli } from '../helpers/cli.ts';

let dir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ko-align-cli-train-'));
  await initModelDir({ arch: 'llama', vocab: 400, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, out: join(dir, 'model'), corpus: [...BUILTIN_KOREAN_CORPUS] });
});

describe('ko-align train sft', () => {
  it('trains the bundled config (overridden by --set) and writes metrics and the final model', () => {
    const out = join(dir, 'run');
    const r = runCli([
      'train', 'sft', '--config', join(repoRoot, 'configs', 'sft.yaml'),
      '--set', `model=${join(dir, 'model')}`, '--set', `output_dir=${out}`, '--set', 'max_steps=3', '--set', 'logging_steps=1',
      '--set', 'eval_steps=3', '--set', 'save_steps=2', '--set', 'backend=wasm', '--set', 'per_device_train_batch_size=4',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sft: 3 step\(s\), final loss \d+\.\d+, eval_loss \d+\.\d+, model .*final\n$/);
    expect(r.stderr).toContain('backend: wasm');
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(existsSync(join(out, 'checkpoint-2', 'trainer_state.json'))).toBe(true);
    expect(existsSync(join(out, 'final', 'model.safetensors'))).toBe(true);
    // --resume with nothing left to do keeps the result and says where it resumed from.
    const again = runCli(['train', 'sft', '--config', join(repoRoot, 'configs', 'sft.yaml'), '--set', `model=${join(dir, 'model')}`, '--set', `output_dir=${out}`, '--set', 'max_steps=3', '--set', 'backend=wasm', '--set', 'per_device_train_batch_size=4', '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('resumed from step 2');
  });

  it('--format overrides dataset.format and is validated like the key (one error line, exit 1)', () => {
    const cfg = join(dir, 'fmt.yaml');
    writeFileSync(cfg, `model: ${join(dir, 'model')}\noutput_dir: ${join(dir, 'fmt')}\ndataset: { path: x.jsonl }\n`);
    const r = runCli(['train', 'sft', '--config', cfg, '--format', 'chatml']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ko-align: error: .*fmt\.yaml: key 'dataset\.format' must be one of auto \| alpaca \| sharegpt \| messages \| prompt_completion \| pretokenized \| text, got "chatml"/);
    // A valid --format is used: alpaca rows read as messages fail on row 1, naming the file.
    const data = join(dir, 'alpaca.jsonl');
    writeFileSync(data, `${JSON.stringify({ instruction: '인사해 줘', output: '안녕하세요' })}\n`);
    writeFileSync(cfg, `model: ${join(dir, 'model')}\noutput_dir: ${join(dir, 'fmt')}\ndataset: { path: ${data} }\nbackend: wasm\n`);
    const m = runCli(['train', 'sft', '--config', cfg, '--format', 'messages']);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain(`ko-align: error: ${data}: row 1: expected 'messages' [{role, content}] (keys: instruction, output)`);
    expect(runCli(['train', 'kto', '--help']).stdout).toMatch(/--format <name> +row format of the dataset[\s\S]*columns \(object\): the dataset's own column names/);
  });

  it('rejects a mistyped key with one error line naming it and the file', () => {
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, `model: ${join(dir, 'model')}\noutput_dir: ${join(dir, 'bad')}\ndataset: { path: x.jsonl }\nneftune_noise_alpa: 5\n`);
    const r = runCli(['train', 'sft', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ko-align: error: .*bad\.yaml: unknown key 'neftune_noise_alpa' \(did you mean 'neftune_noise_alpha'\?\)/);
  });
});
