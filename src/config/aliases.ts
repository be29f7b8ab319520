/**
 * YAML aliases, bounded. A few hundred bytes of nested aliases can stand for millions of nodes
 * (a 118 KB file of hosts aliasing one list of checks took 14.7 s and 294 MB to validate), and
 * yaml's Alias.resolve() walks the whole document per call. So the targets are found in one
 * pass, and the tree as the validator would see it (every alias expanded) is measured before
 * anything reads it: past a budget of nodes reached through aliases the file is refused at the
 * alias that crosses it.
 */
import { isAlias, isCollection, isNode, isPair, type Alias, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';

/** Nodes reached through aliases: a config of 4096 checks, each a 30-node copy, stays under it. */
export const MAX_ALIASED_NODES = 200_000;

export type AliasProblem = { code: 'alias-expansion' | 'alias-cycle'; message: string; alias: Alias };

/** What a collection holds, keys and values alike, in document order. */
function children(node: YAMLMap | YAMLSeq): unknown[] {
  return node.items.flatMap((item) => (isPair(item) ? [item.key, item.value] : [item]));
}

/** Each alias's anchor: the last node with that anchor before the alias, as YAML defines it. */
export function aliasTargets(doc: Document): Map<Alias, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  const visit = (node: unknown): void => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target) targets.set(node, target);
      return;
    }
    if (!isNode(node)) return;
    if (node.anchor) anchors.set(node.anchor, node);
    if (isCollection(node)) for (const child of children(node)) visit(child);
  };
  visit(doc.contents);
  return targets;
}

/**
 * The first alias, in document order, at which the nodes reached through aliases pass
 * MAX_ALIASED_NODES, or one that lies inside the node it names (an endless tree).
 */
export function checkAliasExpansion(doc: Document, targets: ReadonlyMap<Alias, Node>): AliasProblem | undefined {
  // Expanded sizes saturate just past the budget, so even 10^20 nodes stay a small number.
  const cap = MAX_ALIASED_NODES + 1;
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let cycle: Alias | undefined;
  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      if (!target) return 1;
      if (open.has(target)) {
        cycle ??= node;
        return cap;
      }
      return size(target);
    }
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let total = 1;
    for (const child of children(node)) {
      total += size(child);
      if (total >= cap) break;
    }
    open.delete(node);
    const result = Math.min(total, cap);
    sizes.set(node, result);
    return result;
  };
  let reached = 0;
  let problem: AliasProblem | undefined;
  // Document order: the operator hears about the first alias that crosses the budget.
  const walk = (node: unknown): void => {
    if (problem) return;
    if (isAlias(node)) {
      const target = targets.get(node);
      if (!target) return;
      open.clear();
      reached += size(target);
      if (cycle) problem = { code: 'alias-cycle', message: `*${node.source} lies inside the node &${node.source} it refers to, which makes the tree endless`, alias: cycle };
      else if (reached > MAX_ALIASED_NODES) {
        problem = {
          code: 'alias-expansion',
          message: `expanding the aliases up to *${node.source} reaches more than ${MAX_ALIASED_NODES} nodes; a config needs far fewer (aliases of aliases multiply)`,
          alias: node,
        };
      }
      return;
    }
    if (isCollection(node)) for (const child of children(node)) walk(child);
  };
  walk(doc.contents);
  return problem;
}
