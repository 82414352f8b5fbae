/**
 * A worker that runs the kernels on its share of the channels, on memory it shares with the
 * {@link WasmScan} that started it. Messages: `{ bytes, memory }` once, then `{ fn, args }`
 * (a kernel's name and its arguments); it answers each with `null` or an error message.
 *
 * @module
 */

/// <reference lib="deno.worker" />

let kernels: Record<string, (...args: number[]) => void> | undefined;

self.onmessage = async (event: MessageEvent) => {
  const data = event.data;
  try {
    if (data.bytes) {
      const { instance } = await WebAssembly.instantiate(data.bytes, {
        env: { memory: data.memory },
      });
      kernels = instance.exports as Record<string, (...args: number[]) => void>;
    } else {
      kernels![data.fn as string](...(data.args as number[]));
    }
    self.postMessage(null);
  } catch (err) {
    self.postMessage(String((err as Error)?.stack ?? err));
  }
};
