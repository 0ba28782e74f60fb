// Compiles the vendored official onnx.proto (sidecar/src/export/onnx.proto) into the protobufjs
// JSON descriptor the exporter loads (sidecar/src/export/onnx-proto.json), so the bundle needs no
// .proto parser or file at run time. test/unit/export.test.ts fails when the JSON is stale.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const dir = path.join(__dirname, '..', 'sidecar', 'src', 'export');
export const ONNX_PROTO_JSON = path.join(dir, 'onnx-proto.json');

export function onnxProtoJsonText(): string {
  const root = protobuf.parse(fs.readFileSync(path.join(dir, 'onnx.proto'), 'utf8'), { keepCase: true }).root;
  return JSON.stringify(root.toJSON(), null, 1) + '\n';
}

if (require.main === module) {
  fs.writeFileSync(ONNX_PROTO_JSON, onnxProtoJsonText());
  console.log(`wrote ${ONNX_PROTO_JSON}`);
}
