/**
 * The ko-align command line: a thin shell. Each command group lives in its own file and
 * registers itself on the program; commands parse flags, call one library function, print.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.ts';
import { isOutOfMemory, outOfMemoryMessage } from '../engine/memory.ts';
import { failureLine } from '../util/failures.ts';
import { registerCommands } from './commands.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('ko-align')
    .description('Post-training for Korean LLMs: curate, judge, SFT + NEFTune, KTO with cached reference log-probs, toxicity-gated sweeps.')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    // Errors are printed by `main` as one line; help and version still go to stdout.
    .configureOutput({ outputError: () => {} })
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI; returns the exit code. User errors print one line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version exit 0 (commander printed them); a bad flag or argument is one line.
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // A command group without its subcommand: commander listed the subcommands already.
      if (e.code === 'commander.help') return 2;
      process.stderr.write(`${usageErrorLine(program, argv, e.message)}\n`);
      return 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`ko-align: error: ${e.message}\n`);
      return 1;
    }
    if (isOutOfMemory(e)) {
      process.stderr.write(`ko-align: error: ${outOfMemoryMessage(e)}\n`);
      return 1;
    }
    const err = e as Error;
    // Out of memory, engine aborts, a full disk...: one line with the cause and the remedy.
    const known = failureLine(e);
    if (known) {
      process.stderr.write(`ko-align: error: ${known}\n`);
      if (process.env.KO_ALIGN_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
      return 1;
    }
    process.stderr.write(`ko-align: internal error: ${(err?.message ?? String(e)).split('\n')[0]}\n`);
    if (process.env.KO_ALIGN_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 1;
  }
}

/** The subcommand path named by argv ('judge batch submit'), as far as it names commands. */
export function commandPath(program: Command, argv: string[]): string[] {
  const path: string[] = [];
  let cmd: Command = program;
  for (const a of argv.slice(2)) {
    if (a.startsWith('-')) break;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    path.push(sub.name());
    cmd = sub;
  }
  return path;
}

/**
 * commander's message ("error: unknown option '--inptu'\n(Did you mean --input?)") as one line:
 * the problem, the closest valid flag or command, and where the full help is.
 */
export function usageErrorLine(program: Command, argv: string[], message: string): string {
  const path = commandPath(program, argv);
  const cmd = path.reduce<Command>((c, name) => c.commands.find((x) => x.name() === name)!, program);
  // commander checks required options before unknown ones: name the mistyped flag first.
  const unknown = unknownFlag(cmd, argv.slice(2 + path.length));
  let text: string;
  if (unknown) {
    const near = closestFlag(cmd, unknown);
    text = `unknown option '${unknown}'${near ? ` (did you mean ${near}?)` : ''}`;
  } else {
    const parts = message.split('\n').map((l) => l.trim()).filter(Boolean);
    text = (parts[0] ?? 'invalid usage').replace(/^error:\s*/, '').replace(/\.$/, '');
    const hint = parts.slice(1).join(' ').replace(/^\((.*)\)$/, '$1');
    if (hint) text += ` (${hint.charAt(0).toLowerCase()}${hint.slice(1)})`;
  }
  return `ko-align: error: ${text}; see 'ko-align ${[...path, '--help'].join(' ')}' for more`;
}

function knownFlags(cmd: Command): string[] {
  const flags = ['--help', '-h'];
  for (const o of cmd.options) {
    if (o.long) flags.push(o.long);
    if (o.short) flags.push(o.short);
    if (o.negate && o.long) flags.push(o.long);
  }
  return flags;
}

/** The first flag in `args` that `cmd` does not define (values after '--' are not flags). */
function unknownFlag(cmd: Command, args: string[]): string | undefined {
  const known = new Set(knownFlags(cmd));
  for (const a of args) {
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) continue;
    const flag = a.split('=')[0]!;
    if (!known.has(flag)) return flag;
  }
  return undefined;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** The defined long flag closest to `flag` (at most 40% of its letters changed), if any. */
function closestFlag(cmd: Command, flag: string): string | undefined {
  let best: { f: string; d: number } | undefined;
  for (const f of knownFlags(cmd)) {
    if (!f.startsWith('--')) continue;
    const d = editDistance(flag, f);
    if (d <= Math.max(1, Math.floor(0.4 * f.length)) && (!best || d < best.d)) best = { f, d };
  }
  return best?.f;
}
