/**
 * Lets queued tasks run between forward passes (a cancel message, streamed tokens): Node's
 * setImmediate, else a MessageChannel task. Not `scheduler.yield()`: its continuation outranks
 * the messages already queued, so in a browser worker a cancel waited for the whole run.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(null);
  });
}
