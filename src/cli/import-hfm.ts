/** `pfsteer import-hfm FILE`: turn an hfm configuration into an annotated pfsteer.yaml. */
import { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { formatConfigError } from '../config/format-error.ts';
import { ConfigError } from '../errors.ts';
import { importHfm } from '../hfm/import.ts';
import { PLACEHOLDER } from '../hfm/convert.ts';
import { EXIT } from './exit.ts';

export function importHfmCommand(): Command {
  return new Command('import-hfm')
    .description('convert an hfm configuration (libucl) into an annotated pfsteer.yaml')
    .argument('<file>', 'the hfm configuration, such as /usr/local/etc/hfm.conf')
    .option('-o, --output <file>', 'write the pfsteer config here instead of stdout')
    .option('--force', 'overwrite the --output file if it exists')
    .addHelpText(
      'after',
      `
Each hfm rule becomes an exec check with the same command, arguments and deadlines
(timeout_int -> timeout, timeout_kill -> kill_after after it, interval_fail -> fastinter and
downinter, change_*_debounce -> rise and fall), each host block a host, change_success and
change_fail the host's on_up and on_down. What hfm does not know (the services pf redirects,
each host's address per service) is written as "${PLACEHOLDER}: ..." values that
\`pfsteer check\` names until they are filled in. Whatever has no exact equivalent is listed
on stderr as FILE:LINE:COL: note: ... and as comments at the top of the output.

Exit codes:
  ${EXIT.ok}  converted (read the notes)
  ${EXIT.usage}  the hfm file is unreadable or invalid (located problems on stderr), or --output exists

Example:
  pfsteer import-hfm /usr/local/etc/hfm.conf -o /usr/local/etc/pfsteer.yaml
  pfsteer check -c /usr/local/etc/pfsteer.yaml`,
    )
    .action(async (file: string, options: { output?: string; force?: boolean }) => {
      process.exitCode = await runImport(file, options.output, options.force === true);
    });
}

async function runImport(file: string, output: string | undefined, force: boolean): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    process.stderr.write(`${file}: read-failed: cannot read the hfm configuration: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    return EXIT.usage;
  }
  let converted;
  try {
    converted = importHfm(text, file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${formatConfigError(error, text)}\n${error.issues.length} problem(s) in ${file}; nothing was written\n`);
    return EXIT.usage;
  }
  if (output === undefined) process.stdout.write(converted.yaml);
  else {
    try {
      await writeFile(output, converted.yaml, { flag: force ? 'w' : 'wx', mode: 0o640 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      process.stderr.write(`${output}: ${code === 'EEXIST' ? 'exists; pass --force to overwrite it' : `cannot write it: ${code ?? String(error)}`}\n`);
      return EXIT.usage;
    }
  }
  for (const note of converted.notes) {
    process.stderr.write(`${file}${note.pos ? `:${note.pos.line}:${note.pos.col}` : ''}: note: ${note.message}\n`);
  }
  const target = output ?? 'the output';
  process.stderr.write(`${converted.notes.length} note(s); ${converted.placeholders} place(s) marked ${PLACEHOLDER} to complete in ${target}, then: pfsteer check -c ${output ?? 'FILE'}\n`);
  return EXIT.ok;
}
