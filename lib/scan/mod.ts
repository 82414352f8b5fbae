/** The selective scan on the CPU as a WebAssembly SIMD kernel built in TypeScript. @module */
export * from "./scan_kernel.ts";
export * from "./wasm_scan.ts";
