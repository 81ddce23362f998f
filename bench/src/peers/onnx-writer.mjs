// A small protobuf writer for ONNX: builds a ModelProto in memory (no .onnx files, no protoc)
// for the single-op graphs the ORT-web peer times. Only the fields those graphs need are
// written; the field numbers are onnx.proto's (opset 17 semantics, IR version 8).

/** TensorProto.DataType values used by the cases. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 };

const utf8 = new TextEncoder();

/** A growable byte buffer with the three protobuf wire types the writer needs. */
class Writer {
  constructor() { this.parts = []; this.length = 0; }

  bytes(b) { this.parts.push(b); this.length += b.length; return this; }

  /** Base-128 varint; negative int64 values take ten bytes (two's complement), as in protobuf. */
  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    const out = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v ? low | 0x80 : low);
    } while (v);
    return this.bytes(Uint8Array.from(out));
  }

  tag(field, wire) { return this.varint((field << 3) | wire); }

  /** Wire type 0: int32, int64, enum. */
  int(field, value) { return this.tag(field, 0).varint(value); }

  /** Wire type 2: bytes, strings, embedded messages (given as a finished Writer). */
  len(field, payload) {
    const b = payload instanceof Writer ? payload.finish() : typeof payload === 'string' ? utf8.encode(payload) : payload;
    return this.tag(field, 2).varint(b.length).bytes(b);
  }

  /** Wire type 5: a little-endian float32. */
  float(field, value) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.tag(field, 5).bytes(b);
  }

  finish() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 };

/** AttributeProto from a JS value: integer -> INT, integer array -> INTS, `{ f }` -> FLOAT. */
function attribute(name, value) {
  const w = new Writer().len(1, name);
  if (Array.isArray(value)) {
    for (const v of value) w.int(8, v); // ints (unpacked repeated int64, the proto2 default)
    return w.int(20, ATTR.INTS);
  }
  if (typeof value === 'object') return w.float(2, value.f).int(20, ATTR.FLOAT);
  if (!Number.isInteger(value)) throw new Error(`attribute ${name}: write floats as { f: value }`);
  return w.int(3, value).int(20, ATTR.INT);
}

/** NodeProto: `op` in the default domain, with named inputs/outputs and attributes. */
export function node(op, inputs, outputs, attrs = {}) {
  return { op, inputs, outputs, attrs };
}

/** TensorProto holding `data` (a typed array of the element type) as raw little-endian bytes. */
export function initializer(name, type, dims, data) {
  return { name, type, dims, data };
}

function tensorProto({ name, type, dims, data }) {
  const w = new Writer();
  for (const d of dims) w.int(1, d);
  w.int(2, type).len(8, name);
  return w.len(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // raw_data
}

/** ValueInfoProto of a tensor with a static shape. */
function valueInfo([name, type, dims]) {
  const shape = new Writer();
  for (const d of dims) shape.len(1, new Writer().int(1, d)); // Dimension.dim_value
  const tensorType = new Writer().int(1, type).len(2, shape);
  return new Writer().len(1, name).len(2, new Writer().len(1, tensorType));
}

/**
 * A serialized ModelProto: `{ nodes, inits, inputs, outputs }`, where inputs/outputs are
 * `[name, DT.*, dims]`. Returns the bytes `InferenceSession.create` accepts.
 */
export function model({ nodes, inits = [], inputs, outputs }, opset = 17) {
  const graph = new Writer();
  nodes.forEach((n, i) => {
    const w = new Writer();
    for (const x of n.inputs) w.len(1, x);
    for (const y of n.outputs) w.len(2, y);
    w.len(3, `n${i}_${n.op}`).len(4, n.op);
    for (const [k, v] of Object.entries(n.attrs)) w.len(5, attribute(k, v));
    graph.len(1, w);
  });
  graph.len(2, 'bench');
  for (const t of inits) graph.len(5, tensorProto(t));
  for (const v of inputs) graph.len(11, valueInfo(v));
  for (const v of outputs) graph.len(12, valueInfo(v));
  return new Writer()
    .int(1, 8) // ir_version
    .len(2, 'wasmnn-bench')
    .len(7, graph)
    .len(8, new Writer().len(1, '').int(2, opset)) // opset_import: default domain
    .finish();
}
