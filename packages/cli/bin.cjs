#!/usr/bin/env node
'use strict';
// The CLI is one CommonJS bundle (scripts/bundle.mjs), so a one-shot command starts close to
// `node -e 0`. It is compiled here rather than required so that V8's code cache, made at build
// time, spares compiling it again: Node 20 has no compile cache of its own. A cache that does not
// match (another Node version, or not from this build of the bundle) is simply not used.
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** The bundle, compiled with its code cache when that matches (in a function: nothing here outlives the load). */
function compileBundle(file) {
  const source = readFileSync(file, 'utf8');
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
    // The bundle ends with its build id, and the cache starts with it (V8 checks only the length).
    const id = source.slice(source.lastIndexOf('\n//# build-id ') + 1).trim();
    cachedData = cachedData.subarray(0, id.length).toString() === id ? cachedData.subarray(id.length) : undefined;
  } catch {
    cachedData = undefined;
  }
  return new vm.Script(Module.wrap(source), { filename: file, cachedData }).runInThisContext();
}

const file = path.join(__dirname, 'dist', 'bundle', 'cluster-control.cjs');
// import() inside code compiled by node:vm has no loader: custom handler modules are loaded with this one.
globalThis[Symbol.for('cluster-control.importModule')] = (url) => import(url);
const bundle = { exports: {} };
compileBundle(file)(bundle.exports, Module.createRequire(file), bundle, file, path.dirname(file));
bundle.exports.runCli(process.argv);
