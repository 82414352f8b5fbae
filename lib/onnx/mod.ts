/** ONNX: the graph builder, the Mamba graph, and the onnxruntime-node session. @module */
export * from "./graph_builder.ts";
export * from "./mamba_graph.ts";
export * from "./session.ts";
export * from "./adapter.ts";
export * from "./cuda.ts";
