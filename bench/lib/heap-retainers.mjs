// @ts-check
// Reads a V8 heap snapshot (.heapsnapshot, as written by v8.writeHeapSnapshot or
// --heapsnapshot-signal) and tells what keeps the memory: the dominator tree (Cooper, Harvey and
// Kennedy's iterative algorithm over the strong edges; weak edges retain nothing), each object's
// retained size, and two views of it:
//
// - `retainers`: the dominator tree cut at 1 % of the heap, objects that are not V8 internals
//   only, each with the edge path that holds it (e.g. "ClusterSync > membership (Membership) >
//   entries (Map)");
// - `classes`: self size and count per constructor name (what the heap is made of).
//
//   node bench/lib/heap-retainers.mjs FILE.heapsnapshot [--top N]   prints both as markdown

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const MIB = 2 ** 20;

/**
 * @param {string} file
 * @param {{ top?: number }} [options]
 */
export function analyzeHeapSnapshot(file, { top = 12 } = {}) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  const N = nodeFields.length;
  const E = edgeFields.length;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const nodes = snapshot.nodes;
  const edges = snapshot.edges;
  const strings = snapshot.strings;
  const count = nodes.length / N;
  const TYPE = nodeFields.indexOf('type');
  const NAME = nodeFields.indexOf('name');
  const SELF = nodeFields.indexOf('self_size');
  const EDGES = nodeFields.indexOf('edge_count');
  const ETYPE = edgeFields.indexOf('type');
  const ENAME = edgeFields.indexOf('name_or_index');
  const ETO = edgeFields.indexOf('to_node');
  const WEAK = edgeTypes.indexOf('weak');
  const SHORTCUT = edgeTypes.indexOf('shortcut');
  const ELEMENT = edgeTypes.indexOf('element');
  const HIDDEN = edgeTypes.indexOf('hidden');

  // First edge of each node.
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * N + EDGES] * E;
  }
  firstEdge[count] = edges.length;
  const strong = (e) => edges[e + ETYPE] !== WEAK && edges[e + ETYPE] !== SHORTCUT;

  // Reverse postorder from the root (node 0), strong edges only; iterative DFS.
  const order = new Int32Array(count).fill(-1); // node -> postorder index
  const post = new Int32Array(count); // postorder index -> node
  let visited = 0;
  {
    const stack = new Int32Array(count);
    const cursor = new Uint32Array(count);
    const seen = new Uint8Array(count);
    let sp = 0;
    stack[sp++] = 0;
    seen[0] = 1;
    cursor[0] = firstEdge[0];
    while (sp > 0) {
      const n = stack[sp - 1];
      let pushed = false;
      while (cursor[n] < firstEdge[n + 1]) {
        const e = cursor[n];
        cursor[n] += E;
        if (!strong(e)) continue;
        const to = edges[e + ETO] / N;
        if (seen[to]) continue;
        seen[to] = 1;
        cursor[to] = firstEdge[to];
        stack[sp++] = to;
        pushed = true;
        break;
      }
      if (!pushed) {
        sp--;
        order[n] = visited;
        post[visited++] = n;
      }
    }
  }
  // Predecessors (strong edges, reachable nodes only), as CSR.
  const predCount = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) {
    if (order[n] < 0) continue;
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += E) if (strong(e)) predCount[edges[e + ETO] / N]++;
  }
  const predStart = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) predStart[n + 1] = predStart[n] + predCount[n];
  const preds = new Int32Array(predStart[count]);
  const fill = predStart.slice(0, count);
  for (let n = 0; n < count; n++) {
    if (order[n] < 0) continue;
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += E) if (strong(e)) preds[fill[edges[e + ETO] / N]++] = n;
  }
  // Dominators, by postorder index.
  const idom = new Int32Array(visited).fill(-1);
  const root = order[0];
  idom[root] = root;
  const intersect = (a, b) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = visited - 1; i >= 0; i--) {
      if (i === root) continue;
      const n = post[i];
      let d = -1;
      for (let p = predStart[n]; p < predStart[n + 1]; p++) {
        const q = order[preds[p]];
        if (q < 0 || idom[q] < 0) continue;
        d = d < 0 ? q : intersect(q, d);
      }
      if (d >= 0 && idom[i] !== d) {
        idom[i] = d;
        changed = true;
      }
    }
  }
  // Retained sizes: children before parents = increasing postorder index.
  const retained = new Float64Array(visited);
  for (let i = 0; i < visited; i++) retained[i] = nodes[post[i] * N + SELF];
  for (let i = 0; i < visited; i++) if (i !== root) retained[idom[i]] += retained[i];

  const typeOf = (n) => nodeTypes[nodes[n * N + TYPE]];
  const nameOf = (n) => strings[nodes[n * N + NAME]];
  /** A node's label: its constructor (objects) or kind. */
  const label = (n) => {
    const type = typeOf(n);
    if (type === 'object' || type === 'closure' || type === 'native') return nameOf(n) || type;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return `(${type})`;
    return `(${type}${type === 'array' || type === 'hidden' ? ` ${nameOf(n)}` : ''})`;
  };
  // The edge that holds each node in the dominator tree: from its dominator, when one leads there.
  const holderEdge = (i) => {
    const n = post[i];
    const d = post[idom[i]];
    for (let e = firstEdge[d]; e < firstEdge[d + 1]; e += E) {
      if (edges[e + ETO] / N !== n) continue;
      const t = edges[e + ETYPE];
      if (t === ELEMENT || t === HIDDEN) return `[${edges[e + ENAME]}]`;
      return String(strings[edges[e + ENAME]]);
    }
    return '…';
  };
  const interesting = (n) => {
    const type = typeOf(n);
    if (type === 'synthetic' || type === 'hidden' || type === 'code') return false;
    const name = nameOf(n);
    return !(name.startsWith('system /') || name === '(GC roots)' || name.startsWith('(') || name === 'Window');
  };
  /** Path of held-by labels from the nearest interesting dominator (up to 3 steps). */
  const describe = (i) => {
    const parts = [`${holderEdge(i)} (${label(post[i])})`];
    let d = idom[i];
    for (let step = 0; step < 3 && d !== root; step++) {
      const n = post[d];
      if (interesting(n) && typeOf(n) === 'object') {
        parts.unshift(label(n));
        break;
      }
      parts.unshift(holderEdge(d));
      d = idom[d];
    }
    // Held straight from a root (a module's scope, a handle): the object's own name says it.
    return parts.join('.').replace(/^… \((.*)\)$/, '$1');
  };

  const total = retained[root];
  // The dominator tree, children by retained size: each interesting object of at least 1 % of the
  // heap is listed with its path from the nearest listed (or named) holder, nested up to 4 deep.
  const children = new Map();
  for (let i = 0; i < visited; i++) {
    if (i === root || retained[i] < total / 100) continue;
    const list = children.get(idom[i]) ?? [];
    list.push(i);
    children.set(idom[i], list);
  }
  const retainers = [];
  const walk = (i, depth, prefix) => {
    const kids = (children.get(i) ?? []).sort((a, b) => retained[b] - retained[a]);
    for (const k of kids) {
      if (retainers.length >= top) return;
      if (interesting(post[k])) {
        const holder = prefix ? `${prefix} > ${holderEdge(k)} (${label(post[k])})` : describe(k);
        retainers.push({ depth, holder, retainedBytes: retained[k], retainedMiB: +(retained[k] / MIB).toFixed(2) });
        if (depth < 4) walk(k, depth + 1, depth === 0 ? label(post[k]) : `${prefix} > ${holderEdge(k)}`);
      } else {
        walk(k, depth, prefix);
      }
    }
  };
  walk(root, 0, '');

  const byClass = new Map();
  for (let i = 0; i < visited; i++) {
    const n = post[i];
    const key = label(n);
    const entry = byClass.get(key) ?? { name: key, count: 0, selfBytes: 0 };
    entry.count++;
    entry.selfBytes += nodes[n * N + SELF];
    byClass.set(key, entry);
  }
  const classes = [...byClass.values()]
    .sort((a, b) => b.selfBytes - a.selfBytes)
    .slice(0, top)
    .map((c) => ({ ...c, selfMiB: +(c.selfBytes / MIB).toFixed(2) }));
  return { file, nodes: count, reachable: visited, totalBytes: total, totalMiB: +(total / MIB).toFixed(2), retainers, classes };
}

/** Markdown tables of an analysis. */
export function retainersMarkdown(analysis) {
  return [
    `live heap in the snapshot: ${analysis.totalMiB} MiB (${analysis.reachable} objects)`,
    '',
    '| retained MiB | held by |',
    '| ---: | --- |',
    ...analysis.retainers.map((r) => `| ${r.retainedMiB.toFixed(1)} | \`${r.holder.replace(/\|/g, '\\|')}\` |`),
    '',
    '| self MiB | objects | kind |',
    '| ---: | ---: | --- |',
    ...analysis.classes.map((c) => `| ${c.selfMiB.toFixed(1)} | ${c.count} | \`${c.name.replace(/\|/g, '\\|')}\` |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '12' } } });
  for (const file of positionals) {
    process.stdout.write(`## ${file}\n\n${retainersMarkdown(analyzeHeapSnapshot(file, { top: Number(values.top) }))}\n\n`);
  }
}
