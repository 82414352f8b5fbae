/**
 * A worker that runs the scan kernel on its share of the channels, on memory it shares with
 * the {@link WasmScan} that started it. Messages: `{ bytes, memory }` once, then argument
 * lists; it answers each with `null` or an error message.
 *
 * @module
 */

/// <reference lib="deno.worker" />

let scan: ((...args: number[]) => void) | undefined;

self.onmessage = async (event: MessageEvent) => {
  const data = event.data;
  try {
    if (data.bytes) {
      const { instance } = await WebAssembly.instantiate(data.bytes, {
        env: { memory: data.memory },
      });
      scan = instance.exports.scan as (...args: number[]) => void;
    } else {
      scan!(...(data.args as number[]));
    }
    self.postMessage(null);
  } catch (err) {
    self.postMessage(String((err as Error)?.stack ?? err));
  }
};
