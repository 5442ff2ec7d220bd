/** The list of command groups. Each group file exports `register(program)`. */
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
