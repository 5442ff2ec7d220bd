/**
 * The ko-align command line: a thin shell. Each command group lives in its own file and
 * registers itself on the program; commands parse flags, call one library function, print.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.ts';
import { isOutOfMemory, outOfMemoryMessage } from '../engine/memory.ts';
import { registerCommands } from './commands.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('ko-align')
    .description('Post-training for Korean LLMs: curate, judge, SFT + NEFTune, KTO with cached reference log-probs, toxicity-gated sweeps.')
    .version('0.1.0')
    .showHelpAfterError()
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
      // commander already printed help / its own one-line message.
      return e.exitCode === 0 ? 0 : 2;
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
    process.stderr.write(`ko-align: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.KO_ALIGN_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 1;
  }
}
