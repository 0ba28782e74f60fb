/**
 * The names of an ONNX model's inputs and outputs, read from the protobuf without loading it:
 * the file is walked field by field with positioned reads, and everything that is not a graph
 * input, output or initializer name (node lists, weights, docs) is skipped by its length.
 * A model of several gigabytes costs a few kilobytes of reads; weights in external data files
 * are never opened.
 */
import * as fs from 'node:fs';
import { badInput } from '../../common/util/errors';
import { openUserFile } from './userFile';

export interface OnnxSignature {
  /** Inputs the caller feeds (graph inputs that are not initializers). */
  inputs: string[];
  outputs: string[];
}

// Field numbers from onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const TENSOR_NAME = 8;

const WINDOW = 64 * 1024;

/** Reads bytes at any offset through one cached window. */
class PositionedReader {
  private buf = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  byte(pos: number): number {
    if (pos >= this.size) throw new RangeError('past the end');
    if (pos < this.start || pos >= this.start + this.buf.length) {
      this.buf = Buffer.alloc(Math.min(WINDOW, this.size - pos));
      fs.readSync(this.fd, this.buf, 0, this.buf.length, pos);
      this.start = pos;
    }
    return this.buf[pos - this.start];
  }

  bytes(pos: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    fs.readSync(this.fd, out, 0, length, pos);
    return out;
  }

  /** A base-128 varint; exact up to 2^53, which bounds every length in a file this size. */
  varint(pos: number): [value: number, next: number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(pos + i);
      value += (b & 0x7f) * scale;
      if (b < 0x80) return [value, pos + i + 1];
      scale *= 128;
    }
    throw new RangeError('varint longer than 10 bytes');
  }
}

interface Field {
  field: number;
  /** For length-delimited fields: where the payload starts and ends. */
  start: number;
  end: number;
}

/** The fields of a message in [pos, end), each with its payload range; non-LEN payloads are skipped. */
function* fields(r: PositionedReader, pos: number, end: number): Generator<Field> {
  while (pos < end) {
    const [tag, afterTag] = r.varint(pos);
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        pos = r.varint(afterTag)[1];
        break;
      case 1:
        pos = afterTag + 8;
        break;
      case 5:
        pos = afterTag + 4;
        break;
      case 2: {
        const [length, start] = r.varint(afterTag);
        pos = start + length;
        if (pos > end) throw new RangeError('field runs past its message');
        yield { field, start, end: pos };
        break;
      }
      default:
        throw new RangeError(`unsupported wire type ${tag % 8}`);
    }
  }
}

function stringField(r: PositionedReader, msg: Field, field: number): string | undefined {
  for (const f of fields(r, msg.start, msg.end))
    if (f.field === field) return r.bytes(f.start, f.end - f.start).toString('utf8');
  return undefined;
}

export function readOnnxSignature(file: string): OnnxSignature {
  const { fd, size } = openUserFile(file, { what: 'ONNX model' });
  try {
    const r = new PositionedReader(fd, size);
    const graph = [...fields(r, 0, r.size)].find((f) => f.field === MODEL_GRAPH);
    if (!graph) throw badInput('not an ONNX model (no graph)', { file });
    const inputs: string[] = [];
    const outputs: string[] = [];
    const initializers = new Set<string>();
    for (const f of fields(r, graph.start, graph.end)) {
      if (f.field === GRAPH_INPUT) inputs.push(stringField(r, f, VALUE_INFO_NAME) ?? '');
      else if (f.field === GRAPH_OUTPUT) outputs.push(stringField(r, f, VALUE_INFO_NAME) ?? '');
      else if (f.field === GRAPH_INITIALIZER) initializers.add(stringField(r, f, TENSOR_NAME) ?? '');
    }
    // Models before IR version 4 list their weights among the inputs too.
    return { inputs: inputs.filter((n) => !initializers.has(n)), outputs };
  } catch (e) {
    if (e instanceof RangeError) throw badInput(`not an ONNX model (${e.message})`, { file });
    throw e;
  } finally {
    fs.closeSync(fd);
  }
}
