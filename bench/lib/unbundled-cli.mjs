// @ts-check
// The CLI's code unbundled: dist/index.js and its ~80 ES modules through Node's ESM loader, as
// bin.js ran it before the CLI was bundled. The cold-start suite measures it for comparison.
import { runCli } from '../../packages/cli/dist/index.js';

await runCli(process.argv);
