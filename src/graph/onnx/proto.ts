// A minimal protocol-buffers writer (varints, length-delimited fields, packed repeated ints),
// enough to serialize ONNX ModelProto deterministically without a code generator.
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  private byte(b: number): void { this.ensure(1); this.buf[this.len++] = b; }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n) { this.byte(Number(x)); return; }
    while (x >= 0x80n) { this.byte(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void { this.varint((field << 3) | wire); }

  int(field: number, v: number | bigint): void { this.tag(field, 0); this.varint(v); }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void { this.bytes(field, new TextEncoder().encode(s)); }

  message(field: number, build: (w: ProtoWriter) => void): void {
    const w = new ProtoWriter();
    build(w);
    this.bytes(field, w.finish());
  }

  packedInts(field: number, vs: readonly (number | bigint)[]): void {
    const w = new ProtoWriter();
    for (const v of vs) w.varint(v);
    this.bytes(field, w.finish());
  }

  packedFloats(field: number, vs: readonly number[]): void {
    const f = new Float32Array(vs);
    this.bytes(field, new Uint8Array(f.buffer));
  }

  finish(): Uint8Array { return this.buf.slice(0, this.len); }
}
