/**
 * A small ONNX graph builder: named inputs, outputs, float initialisers and nodes, encoded as a
 * ModelProto at opset 17. It writes only what the exporter and the test fixtures need.
 */
import { AttrType, DataType, encodeModel, IR_VERSION, OPSET } from './proto';

type Dim = number | string;
type Elem = (typeof DataType)[keyof typeof DataType];

/** A node attribute; build with `attr.*` so the ONNX attribute type is explicit. */
export type Attr = { type: number; i?: number; f?: number; s?: Uint8Array; ints?: number[]; floats?: number[] };

export const attr = {
  int: (i: number): Attr => ({ type: AttrType.INT, i }),
  ints: (ints: number[]): Attr => ({ type: AttrType.INTS, ints }),
  float: (f: number): Attr => ({ type: AttrType.FLOAT, f }),
  floats: (floats: number[]): Attr => ({ type: AttrType.FLOATS, floats }),
  string: (s: string): Attr => ({ type: AttrType.STRING, s: new TextEncoder().encode(s) }),
};

function valueInfo(name: string, elem: Elem, dims: Dim[]): Record<string, unknown> {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elem,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) },
      },
    },
  };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // Copy: protobufjs keeps a reference, and a view into a larger buffer would write all of it.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export class OnnxGraph {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly inits: Record<string, unknown>[] = [];
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, dims: Dim[], elem: Elem = DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, dims: Dim[], elem: Elem = DataType.FLOAT): string {
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** A constant tensor (float32 or int64), stored as raw little-endian bytes. */
  initializer(name: string, data: Float32Array | BigInt64Array, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new Error(`internal error: initializer ${name} has ${data.length} values for dims [${dims.join(', ')}]`);
    this.inits.push({
      name,
      dims,
      data_type: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
      raw_data: bytesOf(data),
    });
    return name;
  }

  int64s(name: string, values: number[]): string {
    return this.initializer(name, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  /** A name not used before in this graph, for initialisers made in a loop. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** A node with several outputs, named by the caller. */
  nodeOutputs(op: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}): string[] {
    this.nodes.push({
      op_type: op,
      name: `${op}_${this.nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([name, a]) => ({ name, ...a })),
    });
    return outputs;
  }

  /** A node with one output; returns the output's (fresh unless given) name. */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const out = output ?? `${op.toLowerCase()}_${this.counter++}`;
    this.nodes.push({
      op_type: op,
      name: `${op}_${this.nodes.length}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([name, a]) => ({ name, ...a })),
    });
    return out;
  }

  encode(meta: { producer: string; version: string; doc?: string; props?: Record<string, string> }): Uint8Array {
    return encodeModel({
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: meta.producer,
      producer_version: meta.version,
      ...(meta.doc ? { doc_string: meta.doc } : {}),
      ...(meta.props ? { metadata_props: Object.entries(meta.props).map(([key, value]) => ({ key, value })) } : {}),
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
  }
}
