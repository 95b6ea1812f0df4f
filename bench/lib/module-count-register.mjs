// @ts-check
// `node --import ./module-count-register.mjs ...`: counts the JavaScript files a process loads,
// into the file named by CC_BENCH_MODULES_FILE (one path or URL per line): every module through
// the ESM loader (module-count-hooks.mjs), and every .js/.cjs/.mjs file read synchronously, which
// is how the CommonJS loader reads modules and how the CLI's bin.cjs reads its bundle.
import { appendFileSync } from 'node:fs';
import fs from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./module-count-hooks.mjs', import.meta.url);

const out = process.env.CC_BENCH_MODULES_FILE;
const readFileSync = fs.readFileSync;
if (out) {
  fs.readFileSync = /** @type {typeof fs.readFileSync} */ (
    (path, ...rest) => {
      if (typeof path === 'string' && /\.[cm]?js$/.test(path)) appendFileSync(out, pathToFileURL(path).href + '\n');
      return readFileSync(path, ...rest);
    }
  );
}
