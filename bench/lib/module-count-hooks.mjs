// @ts-check
// Module hooks (node:module register) that append the URL of every module loaded through the
// ESM loader to the file named by CC_BENCH_MODULES_FILE. Used by profile.mjs's countModules.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.CC_BENCH_MODULES_FILE && !url.startsWith('node:')) appendFileSync(process.env.CC_BENCH_MODULES_FILE, url + '\n');
  return nextLoad(url, context);
}
