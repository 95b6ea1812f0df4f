// The entry of the one-file bundle (scripts/bundle.mjs): bin.js requires it, and the single
// executable (scripts/build-exe.mjs) runs it as its main script, where it starts the CLI itself.
import { isSea } from 'node:sea';
import { runCli } from './index.js';

export { main, runCli } from './index.js';

if (isSea()) void runCli(process.argv);
