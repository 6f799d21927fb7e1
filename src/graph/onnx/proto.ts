// A minimal protocol-buffers writer (varints, length-delimited fields, packed repeated ints),
// enough to serialize ONNX ModelProto deterministically without a code generator.
//
// Large byte fields (weights) are kept by reference and nested messages are spliced in as lists of
// pieces, so `finish()` copies each weight exactly once: a 250 MiB model is one memcpy, not the
// eight that growing and re-slicing nested buffers cost.

/** Byte fields at least this long are referenced, not copied into the small-field buffer. */
const REF_BYTES = 1 << 16;

export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  /** Finished pieces before `buf` (bytes written so far = total). */
  private pieces: Uint8Array[] = [];
  private piecesLength = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  /** Moves the small-field buffer into the piece list, so a referenced piece can follow it. */
  private flush(): void {
    if (this.len === 0) return;
    this.push(this.buf.slice(0, this.len));
    this.len = 0;
  }

  private push(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.piecesLength += piece.length;
  }

  /** Bytes written so far. */
  get length(): number { return this.piecesLength + this.len; }

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

  /** A length-delimited field. Data of 64 KiB or more is referenced until finish(): keep it unchanged. */
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    if (data.length >= REF_BYTES) {
      this.flush();
      this.push(data);
      return;
    }
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void { this.bytes(field, new TextEncoder().encode(s)); }

  message(field: number, build: (w: ProtoWriter) => void): void {
    const w = new ProtoWriter();
    build(w);
    this.tag(field, 2);
    this.varint(w.length);
    if (w.pieces.length === 0) {
      // small message: copy its bytes in
      this.ensure(w.len);
      this.buf.set(w.buf.subarray(0, w.len), this.len);
      this.len += w.len;
      return;
    }
    this.flush();
    w.flush();
    for (const p of w.pieces) this.push(p);
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

  /** The serialized bytes (a fresh buffer: referenced data is copied here, once). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.pieces) { out.set(p, o); o += p.length; }
    out.set(this.buf.subarray(0, this.len), o);
    return out;
  }
}
