/**
 * A small builder of ONNX graphs: nodes with generated names, constants, initializers stored as
 * ONNX external data (pointing straight into existing files, e.g. safetensors), and the
 * encoded `ModelProto`.
 *
 * @module
 */

import onnxProto from "npm:onnx-proto@8.0.1";

const { onnx } = onnxProto;

/** ONNX element types used here (TensorProto.DataType). */
export const DT = { FLOAT: 1, INT64: 7, BOOL: 9, FLOAT16: 10, BFLOAT16: 16 } as const;

/** An attribute value: number (int unless `float()` wraps it), string, or list. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** Wraps a number so it is written as a FLOAT attribute rather than an INT one. */
export const float = (x: number): { float: number } => ({ float: x });

/** A graph input or output: name, element type and dims (numbers or symbolic names). */
export interface ValueInfo {
  /** Tensor name. */
  name: string;
  /** Element type, a {@link DT} value. */
  type: number;
  /** Dims; strings are symbolic. */
  dims: (number | string)[];
}

/** Builds one ONNX graph. */
export class GraphBuilder {
  readonly #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly #initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  readonly #inputs: ValueInfo[] = [];
  readonly #outputs: ValueInfo[] = [];
  readonly #constants = new Map<string, string>();
  #counter = 0;

  /** Declares a graph input and returns its name. */
  input(name: string, type: number, dims: (number | string)[]): string {
    this.#inputs.push({ name, type, dims });
    return name;
  }

  /** Declares `value` a graph output under `name` (through an Identity when renamed). */
  output(value: string, name: string, type: number, dims: (number | string)[]): void {
    if (value !== name) this.op("Identity", [value], {}, { outputs: [name] });
    this.#outputs.push({ name, type, dims });
  }

  /**
   * Adds a node. Returns its output names (one unless `outputs` or `count` says otherwise).
   * An empty string in `inputs` marks an omitted optional input.
   */
  op(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    options: { outputs?: string[]; count?: number; domain?: string; name?: string } = {},
  ): string[] {
    const id = this.#counter++;
    const base = options.name ?? `${type.toLowerCase()}_${id}`;
    const outputs = options.outputs ??
      Array.from({ length: options.count ?? 1 }, (_, i) => `${base}${i ? `_${i}` : ""}`);
    this.#nodes.push(onnx.NodeProto.create({
      opType: type,
      domain: options.domain ?? "",
      name: `${base}_node`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
    return outputs;
  }

  /** Shorthand for a node with exactly one output. */
  op1(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ""): string {
    return this.op(type, inputs, attrs, { domain })[0];
  }

  /** An int64 constant tensor (deduplicated). */
  int64s(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims}:${values}`;
    const known = this.#constants.get(key);
    if (known !== undefined) return known;
    const name = `const_i64_${this.#counter++}`;
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dataType: DT.INT64,
      dims,
      rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
    }));
    this.#constants.set(key, name);
    return name;
  }

  /** A float32 constant tensor stored inside the model (small values only). */
  floats(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const arr = Float32Array.from(values);
    const key = arr.length <= 16 ? `f32:${dims}:${Array.from(arr)}` : undefined;
    const known = key === undefined ? undefined : this.#constants.get(key);
    if (known !== undefined) return known;
    const name = `const_f32_${this.#counter++}`;
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dataType: DT.FLOAT,
      dims,
      rawData: new Uint8Array(arr.buffer),
    }));
    if (key !== undefined) this.#constants.set(key, name);
    return name;
  }

  /**
   * An initializer whose bytes stay in an external file: `location` relative to the model
   * file's folder, at byte `offset`, `length` bytes, little-endian, C order.
   */
  external(
    name: string,
    type: number,
    dims: readonly number[],
    location: string,
    offset: number,
    length: number,
  ): string {
    this.#initializers.push(onnx.TensorProto.create({
      name,
      dataType: type,
      dims: [...dims],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: location },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(length) },
      ],
    }));
    return name;
  }

  /** Encodes the model with the given opsets, e.g. `{ "": 21, "com.microsoft": 1 }`. */
  encode(opsets: Record<string, number>, graphName = "graph", docString = ""): Uint8Array {
    const valueInfo = (v: ValueInfo) =>
      onnx.ValueInfoProto.create({
        name: v.name,
        type: {
          tensorType: {
            elemType: v.type,
            shape: {
              dim: v.dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
            },
          },
        },
      });
    const model = onnx.ModelProto.create({
      irVersion: 10,
      producerName: "state-soup",
      producerVersion: "0.1.0",
      docString,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: onnx.GraphProto.create({
        name: graphName,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs.map(valueInfo),
        output: this.#outputs.map(valueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
