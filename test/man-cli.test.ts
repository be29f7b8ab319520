/**
 * pfsteer(8) documents exactly the commands, options and arguments the CLI has: a command or
 * option added to src/cli without its man page entry fails here, and so does one removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { buildProgram } from '../src/cli/main.ts';
import { argumentsOf, firstArguments, lists, sectionLines, words, type Item } from './man-mdoc.ts';

const PAGE = readFileSync(new URL('../src/man/pfsteer.8', import.meta.url), 'utf8');

interface Documented {
  flags: string[];
  values: string[];
}

/** `-c, --config <file>` -> flags ['-c', '--config'], values ['file']. */
function optionShape(option: Option): Documented {
  return {
    flags: [option.short, option.long].filter((flag): flag is string => flag !== undefined),
    values: [...option.flags.matchAll(/[<[]([^>\]]+)[>\]]/g)].map((m) => m[1]!.replace(/\.\.\.$/, '')),
  };
}

/** `Fl c Ar file , Fl -config Ar file` -> flags ['-c', '--config'], values ['file']. */
function documentedShape(item: Item): Documented {
  return { flags: firstArguments(item.head, 'Fl').map((name) => `-${name}`), values: [...new Set(firstArguments(item.head, 'Ar'))] };
}

function byFlag(shapes: Documented[]): Map<string, Documented> {
  return new Map(shapes.map((shape) => [shape.flags.join(', '), shape]));
}

function visibleOptions(command: Command): Option[] {
  return command.createHelp().visibleOptions(command);
}

const description = lists(sectionLines(PAGE, 'Sh', 'DESCRIPTION')).flatMap((list) => list.items);
const commandItems = new Map(description.filter((item) => item.head[0] === 'Cm').map((item) => [item.head[1]!, item]));
const program = buildProgram();
const commands = program.commands.filter((command) => !(command as Command & { _hidden?: boolean })._hidden);

test('pfsteer(8) describes every command of the CLI and no other', () => {
  assert.deepEqual([...commandItems.keys()].sort(), commands.map((c) => c.name()).sort());
});

test('pfsteer(8) gives every command in its SYNOPSIS', () => {
  const synopsis = sectionLines(PAGE, 'Sh', 'SYNOPSIS').map((line) => words(line.slice(1)));
  const named = synopsis.filter((parts) => parts[0] === 'Cm').map((parts) => parts[1]);
  assert.deepEqual([...new Set(named)].sort(), commands.map((c) => c.name()).sort());
});

for (const command of commands) {
  test(`pfsteer(8) documents exactly the options and arguments of \`pfsteer ${command.name()}\``, () => {
    const item = commandItems.get(command.name());
    assert.ok(item, `no .It Cm ${command.name()} in DESCRIPTION`);
    const documented = item.lists.flatMap((list) => list.items).map(documentedShape);
    const actual = visibleOptions(command)
      .filter((option) => option.long !== '--help')
      .map(optionShape);
    assert.deepEqual(byFlag(documented), byFlag(actual));
    const headArguments = argumentsOf(item.head, 'Ar');
    for (const argument of command.registeredArguments) {
      assert.ok(headArguments.includes(argument.name()), `the head of ${command.name()} names its argument ${argument.name()}`);
    }
  });
}

test('pfsteer(8) documents the options that apply without a command', () => {
  const global = description.filter((item) => item.head[0] === 'Fl').map(documentedShape);
  assert.deepEqual(byFlag(global), byFlag(visibleOptions(program).map(optionShape)));
});

test('pfsteer(8) has the sections an admin looks for, and the pages the issue names in SEE ALSO', () => {
  const sections = PAGE.split('\n').filter((line) => line.startsWith('.Sh ')).map((line) => line.slice(4));
  for (const name of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'SIGNALS', 'ENVIRONMENT', 'FILES', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO']) {
    assert.ok(sections.includes(name), `section ${name}`);
  }
  const seeAlso = sectionLines(PAGE, 'Sh', 'SEE ALSO').map((line) => words(line.slice(1)).slice(1, 3).join('('));
  for (const page of ['pf.conf(5', 'pfctl(8', 'rc.conf(5', 'daemon(8', 'haproxy(1', 'pfsteer.yaml(5']) {
    assert.ok(seeAlso.includes(page), `SEE ALSO ${page})`);
  }
});
