/**
 * Just enough of mdoc(7) to read the tag lists of pfsteer's man pages as a tree: which items a
 * list holds, the words of each item's head (`.It` line, or the lines of an `.It Xo ... .Xc`),
 * and the lists nested in each item. The drift tests compare that tree with the CLI and the
 * config loader.
 */

export interface Item {
  /** The head's words without quotes, macros included: `['Fl', 'c', 'Ar', 'file', ',', ...]`. */
  head: string[];
  lists: List[];
}

export interface List {
  items: Item[];
}

/** The lines of a section (`.Sh NAME`) or subsection (`.Ss NAME`), without the heading. */
export function sectionLines(text: string, macro: 'Sh' | 'Ss', name: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`.${macro} ${name}`);
  if (start < 0) throw new Error(`no .${macro} ${name}`);
  const end = lines.findIndex((line, i) => i > start && (line.startsWith('.Sh ') || (macro === 'Ss' && line.startsWith('.Ss '))));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

export function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The top-level tag lists among `lines`, each with its nested lists. */
export function lists(lines: readonly string[]): List[] {
  const top: List[] = [];
  const open: List[] = [];
  let xo: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith('.\\"')) continue;
    const parts = line.startsWith('.') ? words(line.slice(1)) : [];
    if (xo) {
      if (parts[0] === 'Xc') {
        open.at(-1)!.items.at(-1)!.head.push(...xo);
        xo = undefined;
      } else xo.push(...parts);
      continue;
    }
    if (parts[0] === 'Bl') {
      const list: List = { items: [] };
      const owner = open.at(-1)?.items.at(-1);
      (owner ? owner.lists : top).push(list);
      open.push(list);
    } else if (parts[0] === 'El') {
      open.pop();
    } else if (parts[0] === 'It') {
      const head = parts.slice(1);
      if (head[0] === 'Xo') xo = [];
      open.at(-1)!.items.push({ head: head[0] === 'Xo' ? [] : head, lists: [] });
    }
  }
  return top;
}

const MACRO = /^[A-Z][a-z]{1,2}$/;

/** The words a macro applies to in a head: `Ic a , b Ar x` -> for Ic: ['a', 'b']. */
export function argumentsOf(head: readonly string[], macro: string): string[] {
  const out: string[] = [];
  let inside = false;
  for (const word of head) {
    if (MACRO.test(word)) inside = word === macro;
    else if (inside && !/^[,;.:()|]$/.test(word)) out.push(word);
  }
  return out;
}

/** The first argument of each use of `macro`: `Fl c Ar file , Fl -config` -> for Fl: ['c', '-config']. */
export function firstArguments(head: readonly string[], macro: string): string[] {
  return head.flatMap((word, i) => (word === macro && head[i + 1] !== undefined && !MACRO.test(head[i + 1]!) ? [head[i + 1]!] : []));
}
