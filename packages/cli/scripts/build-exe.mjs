// @ts-check
// Builds the single executable: dist/exe/cluster-control, a copy of the running Node binary with
// the whole CLI injected as a Node single executable application (SEA), plus
// dist/exe/cluster-control.sha256 (`sha256sum -c` format). Run after the build (`pnpm build:exe`
// from the repository root does both).
//
// - The main script is the bundle in one file (scripts/bundle.mjs, `single`): an SEA can load
//   nothing from disk but Node's built-ins.
// - etcd3's gRPC definitions (generated from its .proto files) are an SEA asset, read with
//   node:sea's getAsset when gRPC is first used.
// - V8's code cache of the main script is built in (`useCodeCache`), so the executable starts
//   without compiling it.
// - The executable is for the platform and Node version that build it (here linux-x64, Node 20):
//   it is that Node binary. Built-in modules only: no native addons are needed.
//
//   node scripts/build-exe.mjs [--out DIR]

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

import { CLI_DIR, PROTOS_FILE, bundleCli } from './bundle.mjs';

/** The fuse Node's binary carries for postject to flip (the same in every Node release with SEA). */
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const { values: opts } = parseArgs({ options: { out: { type: 'string', default: join(CLI_DIR, 'dist', 'exe') } } });
const outdir = /** @type {string} */ (opts.out);
const exe = join(outdir, 'cluster-control');

if (process.platform !== 'linux') throw new Error(`build-exe: builds for the platform it runs on, and only Linux is supported (this is ${process.platform})`);
if (!readFileSync(process.execPath).includes(SENTINEL_FUSE)) {
  throw new Error(`build-exe: ${process.execPath} has no single-executable fuse (${SENTINEL_FUSE}): use an official Node.js build (20.12 or later)`);
}

// 1. The main script and the asset, in a directory of their own (emptied).
const work = join(outdir, 'sea');
await bundleCli({ outdir: work, single: true });
const main = join(work, 'cluster-control.cjs');
const blob = join(work, 'sea-prep.blob');
const seaConfig = join(work, 'sea-config.json');
writeFileSync(seaConfig, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: { [PROTOS_FILE]: join(work, PROTOS_FILE) } }, null, 2));

// 2. The preparation blob, made by this very Node (it must match the binary it goes into).
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });

// 3. A copy of this Node with the blob injected.
rmSync(exe, { force: true });
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
const postject = /** @type {{ inject(file: string, name: string, data: Buffer, options: { sentinelFuse: string }): Promise<void> }} */ (createRequire(import.meta.url)('postject'));
await postject.inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });

// 4. It must run: its version is the package's.
const { version } = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8'));
const printed = execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim();
if (printed !== version) throw new Error(`build-exe: ${exe} --version printed ${JSON.stringify(printed)}, expected ${version}`);

// 5. The checksum, in sha256sum's format, checked with `sha256sum -c cluster-control.sha256` beside it.
const sha256 = createHash('sha256').update(readFileSync(exe)).digest('hex');
writeFileSync(`${exe}.sha256`, `${sha256}  ${basename(exe)}\n`);
rmSync(work, { recursive: true, force: true });
console.log(`${exe}: ${(statSync(exe).size / 2 ** 20).toFixed(1)} MiB, sha256 ${sha256}`);
