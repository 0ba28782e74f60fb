/**
 * ONNX protobuf messages through protobufjs, from the official onnx.proto (ONNX 1.12, IR 8)
 * compiled to a JSON descriptor by `npm run gen:onnx-proto`. Field names keep the .proto's
 * snake_case, so objects here read like the ONNX spec.
 */
import * as protobuf from 'protobufjs';
import descriptor from './onnx-proto.json';

/** IR version 8 is the one that introduced opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;
export const OPSET = 17;

/** TensorProto.DataType values used by the exporter and the test fixtures. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;

/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

let root: protobuf.Root | undefined;
function modelType(): protobuf.Type {
  root ??= protobuf.Root.fromJSON(descriptor);
  return root.lookupType('onnx.ModelProto');
}

/** A ModelProto as a plain object (the subset the exporter writes). */
export interface ModelObject {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  metadata_props?: { key: string; value: string }[];
  graph: Record<string, unknown>;
}

export function encodeModel(model: ModelObject): Uint8Array {
  const T = modelType();
  const err = T.verify(model);
  if (err) throw new Error(`internal error: invalid ONNX model object: ${err}`);
  return T.encode(T.fromObject(model)).finish();
}

/** Decodes a model file's bytes into plain objects (longs as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const T = modelType();
  return T.toObject(T.decode(bytes), { longs: Number, defaults: false });
}
