// @ts-check
// Bundles the built CLI (dist/index.js and everything it imports: core, handlers, commander,
// etcd3 with gRPC, liquidjs, prom-client) into CommonJS files in dist/bundle/.
//
// Why: a one-shot command used to load 118 ES modules through Node's ESM loader, which cost more
// than the command's own work (README: Performance). A CommonJS bundle is read and compiled in
// one go, and V8 compiles only the functions that run.
//
// - `node scripts/bundle.mjs` (the build): dist/bundle/cluster-control.cjs holds the CLI, core,
//   handlers and commander; the three large dependencies that most commands never load get a
//   file each (etcd3.cjs with gRPC, liquidjs.cjs, prom-client.cjs), required on first use, so
//   their ~1.5 MB is not even parsed by `prepare` or `--help`.
// - `bundleCli({ single: true })` (scripts/build-exe.mjs): everything in one file, the main
//   script of the single executable, which can load nothing from disk.
//
// Rewrites make the modules bundleable; each is counted, so a dependency upgrade that changes the
// text fails the build instead of shipping a bundle that breaks at run time:
// - `createRequire(import.meta.url)('x')` (how core and handlers load prom-client, liquidjs and
//   their package.json lazily) and core's `await import('etcd3')` become plain `require('x')`,
//   which esbuild bundles (or points at the split file) and which still runs only on first use.
// - etcd3 reads its .proto files from disk when loaded. It gets the same definitions from
//   etcd3-protos.json instead: generated here from those .proto files, parsed exactly as etcd3
//   parses them, written beside the bundle and embedded as an asset in the single executable.
// - core's `import()` of a custom handler module goes through `__importModule` (see PRELUDE).
// Then the main bundle's built-in imports listed in LAZY_BUILTINS become lazy, and its code cache
// is written (writeCodeCache).
//
//   node scripts/bundle.mjs [--metafile FILE]

import { createHash } from 'node:crypto';
import Module, { createRequire } from 'node:module';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import vm from 'node:vm';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

export const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROTOS_FILE = 'etcd3-protos.json';
const PROTOS_MODULE = 'cluster-control:etcd3-protos';
/**
 * Node built-ins required on first use rather than when the bundle loads: some commands never use
 * them (child processes, TLS, DNS, HTTP for `--help` and `check-config`); ~10 ms of a start.
 */
const LAZY_BUILTINS = ['child_process', 'https', 'tls', 'dns/promises', 'crypto', 'http', 'net', 'fs/promises', 'os'];
/**
 * Helpers at the top of the bundle. `__importModule`: bin.cjs compiles the bundle with node:vm
 * (for the code cache), where `import()` has no loader; bin.cjs, a module Node loaded itself,
 * hands its own `import()` over for loading custom handler modules.
 */
const PRELUDE = [
  `function __lazyBuiltin(id) { let m; return new Proxy({}, { get: (_, key) => (m ??= require(id))[key] }); }`,
  `function __importModule(url) { const viaHost = globalThis[Symbol.for('cluster-control.importModule')]; return viaHost ? viaHost(url) : require('node:sea').isSea() ? __importInSea(url) : import(url); }`,
  // The single executable's main script has no import() either (Node 20): a one-line script
  // compiled with Node's default loader does it. Node flags that option experimental on first use;
  // that one warning is dropped rather than printed to every operator loading a custom handler.
  `function __importInSea(url) {
    const vm = require('node:vm');
    const emitWarning = process.emitWarning;
    process.emitWarning = (warning, ...rest) => (/USE_MAIN_CONTEXT_DEFAULT_LOADER/.test(String(warning)) ? undefined : emitWarning.call(process, warning, ...rest));
    try {
      return new vm.Script('(url) => import(url)', { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }).runInThisContext()(url);
    } finally {
      process.emitWarning = emitWarning;
    }
  }`,
].join('\n');

/** Loaded on first use only: a file of their own in the split build. */
const LAZY_PACKAGES = ['etcd3', 'liquidjs', 'prom-client'];

/** Resolves packages as core does: etcd3 and prom-client are its dependencies, not the CLI's. */
const requireFromCore = createRequire(createRequire(join(CLI_DIR, 'package.json')).resolve('@cluster-control/core/package.json'));
const requireFromHandlers = createRequire(createRequire(join(CLI_DIR, 'package.json')).resolve('@cluster-control/handlers/package.json'));
const etcd3Dir = dirname(requireFromCore.resolve('etcd3/package.json'));

/** etcd3's rpc.proto (and what it imports) parsed with the proto-loader and options etcd3 uses, as protobufjs JSON. */
export function etcd3Protos() {
  const protoLoaderUtil = createRequire(join(etcd3Dir, 'lib', 'connection-pool.js'))('@grpc/proto-loader/build/src/util.js');
  const root = protoLoaderUtil.loadProtosWithOptionsSync(join(etcd3Dir, 'proto', 'rpc.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return JSON.stringify(root.toJSON());
}

const REWRITES = [
  { name: 'lazy requires', file: /[\\/]packages[\\/](core|handlers|cli)[\\/]dist[\\/].*\.js$/, search: /\bcreateRequire\(import\.meta\.url\)\(/g, replace: 'require(', atLeast: 4 },
  { name: 'handler import', file: /[\\/]packages[\\/]core[\\/]dist[\\/]handler[\\/]resolve-handler\.js$/, search: /await import\(url\)/g, replace: 'await __importModule(url)', atLeast: 1 },
  { name: 'etcd3 import', file: /[\\/]packages[\\/]core[\\/]dist[\\/]etcd[\\/]grpc-connection\.js$/, search: /await import\('etcd3'\)/g, replace: "require('etcd3')", atLeast: 1 },
  {
    name: 'etcd3 protos',
    file: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/,
    search: /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/g,
    replace: `(0, proto_loader_1.fromJSON)(require(${JSON.stringify(PROTOS_MODULE)}), {`,
    atLeast: 1,
  },
];

/**
 * @param {{ counts: Map<string, number>, lazy: string[] }} state
 * @returns {import('esbuild').Plugin}
 */
function rewrites(state) {
  return {
    name: 'cluster-control-rewrites',
    setup(b) {
      for (const pkg of state.lazy) {
        b.onResolve({ filter: new RegExp(`^${pkg}$`) }, (args) => (args.kind === 'entry-point' ? undefined : { path: `./${pkg}.cjs`, external: true }));
      }
      b.onResolve({ filter: /^cluster-control:etcd3-protos$/ }, () => ({ path: PROTOS_MODULE, namespace: 'cluster-control' }));
      // The definitions: the executable's asset when running as one, else the file beside the bundle.
      b.onLoad({ filter: /.*/, namespace: 'cluster-control' }, () => ({
        loader: 'js',
        contents: `
          const sea = require('node:sea');
          module.exports = JSON.parse(sea.isSea() ? sea.getAsset(${JSON.stringify(PROTOS_FILE)}, 'utf8') : require('node:fs').readFileSync(require('node:path').join(__dirname, ${JSON.stringify(PROTOS_FILE)}), 'utf8'));
        `,
      }));
      b.onLoad({ filter: /\.js$/ }, (args) => {
        const rules = REWRITES.filter((r) => r.file.test(args.path));
        if (rules.length === 0) return undefined;
        let contents = readFileSync(args.path, 'utf8');
        for (const rule of rules) {
          state.counts.set(rule.name, (state.counts.get(rule.name) ?? 0) + (contents.match(rule.search)?.length ?? 0));
          contents = contents.replace(rule.search, rule.replace);
        }
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * One bundle. `main`: the CLI's own, which gets the prelude and the lazy built-ins; the split-off
 * dependencies are plain bundles.
 * @param {string} outfile @param {string[]} lazy @param {import('esbuild').BuildOptions} options @param {boolean} main
 */
async function bundleOne(outfile, lazy, options, main) {
  const state = { counts: new Map(), lazy };
  const result = await build({
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Readable stack traces matter more than size: not minified.
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    plugins: [rewrites(state)],
    ...options,
  });
  const code = readFileSync(outfile, 'utf8');
  if (!main) return { metafile: result.metafile, counts: state.counts };
  const leftovers = code.match(/\bimport\.meta\b/g)?.length ?? 0;
  if (leftovers > 0) throw new Error(`bundle: ${leftovers} use(s) of import.meta left in ${outfile}: they are empty in CommonJS`);
  // `import { spawn } from 'node:child_process'` is `var import_node_child_process = require("node:child_process");`
  // at the top of the bundle (commander's own is inside its module wrapper): made a proxy that
  // requires the module on first property access.
  const builtins = new RegExp(`^( *)var ([A-Za-z_]\\w*) = require\\("(node:(?:${LAZY_BUILTINS.join('|')}))"\\);$`, 'gm');
  const lazyBuiltins = code.match(builtins)?.length ?? 0;
  state.counts.set('lazy built-ins', lazyBuiltins);
  // The prelude goes after the "use strict" directive, which must stay first.
  if (!code.startsWith('"use strict";\n')) throw new Error(`bundle: ${outfile} does not start with "use strict": has esbuild's output changed?`);
  writeFileSync(outfile, code.replace(builtins, '$1var $2 = __lazyBuiltin("$3");').replace('"use strict";\n', `"use strict";\n${PRELUDE}\n`));
  return { metafile: result.metafile, counts: state.counts };
}

/** Fails the build when a rewrite found less than expected: the dependency's text has changed. */
function checkCounts(/** @type {Map<string, number>} */ counts) {
  for (const rule of REWRITES) {
    const found = counts.get(rule.name) ?? 0;
    if (found < rule.atLeast) throw new Error(`bundle: rewrite "${rule.name}" matched ${found} time(s), expected at least ${rule.atLeast} (${rule.search}): has a dependency changed?`);
  }
}

/**
 * Builds the bundle into `outdir` (emptied first): split (the build) or single (the executable).
 * @param {{ outdir?: string, single?: boolean }} [options]
 */
export async function bundleCli({ outdir = join(CLI_DIR, 'dist', 'bundle'), single = false } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const counts = new Map();
  const add = (/** @type {Map<string, number>} */ c) => c.forEach((n, k) => counts.set(k, (counts.get(k) ?? 0) + n));
  const main = await bundleOne(join(outdir, 'cluster-control.cjs'), single ? [] : LAZY_PACKAGES, { entryPoints: [join(CLI_DIR, 'dist', 'bundle-entry.js')] }, true);
  add(main.counts);
  const metafiles = [main.metafile];
  if (!single) {
    for (const pkg of LAZY_PACKAGES) {
      const from = pkg === 'liquidjs' ? requireFromHandlers : requireFromCore;
      const one = await bundleOne(join(outdir, `${pkg}.cjs`), [], { stdin: { contents: `module.exports = require(${JSON.stringify(from.resolve(pkg))});`, resolveDir: CLI_DIR, loader: 'js' } }, false);
      add(one.counts);
      metafiles.push(one.metafile);
    }
  }
  checkCounts(counts);
  // child_process (core's run-command and supervisor), https/tls (gateway), dns/promises (host resolver).
  if ((main.counts.get('lazy built-ins') ?? 0) < 4)
    throw new Error(`bundle: only ${main.counts.get('lazy built-ins') ?? 0} built-in imports made lazy, expected at least 4: has esbuild's output changed?`);
  writeFileSync(join(outdir, PROTOS_FILE), etcd3Protos());
  if (!single) await writeCodeCache(join(outdir, 'cluster-control.cjs'));
  return { outdir, metafiles };
}

/**
 * Writes FILE.cache: V8's code cache of the bundle as bin.cjs compiles it. It is made after the
 * bundle has run the commands most run by hand (`--help`, `check-config`, `prepare`, `members`,
 * `render`), so that it holds the functions they compile, not just the top level: a few ms of
 * each start. They run here against a stand-in for etcd's JSON gateway answering every read with
 * an empty range, and write into a temporary directory. The cache starts with the bundle's build
 * id, which bin.cjs compares: V8 itself checks only the source's length.
 */
async function writeCodeCache(/** @type {string} */ file) {
  appendFileSync(file, `\n//# build-id ${createHash('sha256').update(readFileSync(file)).digest('hex')}\n`);
  const source = readFileSync(file, 'utf8');
  const id = source.slice(source.lastIndexOf('\n//# build-id ') + 1).trim();
  // The same wrapper, file name and options as bin.cjs: the cache is only accepted for the same script.
  const script = new vm.Script(Module.wrap(source), { filename: file });
  const bundle = { exports: /** @type {{ main(argv: string[]): Promise<number> }} */ ({}) };
  script.runInThisContext()(bundle.exports, createRequire(file), bundle, file, dirname(file));

  const gateway = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ header: { revision: '1' }, count: '0' })));
  });
  await new Promise((resolve) => gateway.listen(0, '127.0.0.1', () => resolve(undefined)));
  const dir = mkdtempSync(join(tmpdir(), 'cc-code-cache-'));
  const conf = join(dir, 'cluster-control.conf');
  const { port } = /** @type {import('node:net').AddressInfo} */ (gateway.address());
  writeFileSync(conf, JSON.stringify({ etcd: { endpoints: [`http://127.0.0.1:${port}`] }, clusters: [{ name: 'web', path: '/clusters/web', handler: 'json', handlerConfig: join(dir, 'web.json') }] }));
  const [stdout, stderr] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  process.stdout.write = process.stderr.write = () => true;
  try {
    for (const args of [['--help'], ['check-config'], ['prepare', 'web'], ['members', 'web'], ['render', 'web']]) {
      await bundle.exports.main(['node', 'cluster-control', '--conf', conf, ...args]);
    }
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
    gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
  writeFileSync(`${file}.cache`, Buffer.concat([Buffer.from(id), script.createCachedData()]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { metafile: { type: 'string' } } });
  const { metafiles } = await bundleCli();
  if (values.metafile) writeFileSync(values.metafile, JSON.stringify(metafiles));
}
