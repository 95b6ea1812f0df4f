/**
 * An AbortSignal that fires on SIGTERM or SIGINT. While it is in use those signals no longer kill
 * the process, so a command can deregister and exit 0 (SPEC §4).
 */
export function shutdownSignal(): { signal: AbortSignal; dispose: () => void; received: () => NodeJS.Signals | undefined } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    received ??= sig;
    controller.abort();
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}
