// Lifecycle logging only. Per-connection lines are debug level, so a benchmark
// run pays nothing for them unless LOG_LEVEL=debug.

export function createLogger({ debug }) {
  return {
    debug: debug ? (...args) => console.log(...args) : () => {},
    error: (...args) => console.error(...args),
  };
}
