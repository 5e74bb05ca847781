// An incremental JSON lexer fed byte chunks split anywhere, for files too large to hold as text
// and then as boxed numbers (the 307 MB GloVe file: JSON.parse would hold the text and ~34M
// numbers at once). Events go to a reader that keeps what it wants. Hand-written: it needs only
// what JSON.stringify writes, and turns digits into a number while scanning instead of building a
// value (and a string) per token.
import { GraftError } from '../core/errors.js';

/** Events of an incremental JSON lexer; open/close bracket containers, key precedes its value. */
export interface JsonEvents {
  key(k: string): void;
  string(s: string): void;
  number(n: number): void;
  literal(v: boolean | null): void;
  open(kind: 'array' | 'object'): void;
  close(): void;
}

const enum Lex {
  Between,
  String,
  Escape,
  Number,
  Literal,
}

/** 10^k for k ≤ 22: exact in float64, so m / 10^k with m < 2^53 is the correctly rounded value (Clinger's fast path). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_FAST_DIGITS = 15;
const utf8 = new globalThis.TextDecoder('utf-8');
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/**
 * Byte-at-a-time JSON lexer fed arbitrary chunks, so tokens may straddle them. Numbers are
 * built from their digits while scanning (the same double JSON.parse gives: see POW10), strings
 * decoded once whole. It checks bracket nesting and characters, not commas and colons: it reads
 * files JSON.stringify wrote.
 */
export class JsonLexer {
  private state = Lex.Between;
  /** Containers open: true for objects. */
  private stack: boolean[] = [];
  private expectKey = false;
  private bytes = new Uint8Array(256);
  private length = 0;
  private escaped = false;
  private ascii = true;
  private negative = false;
  private mantissa = 0;
  private digits = 0;
  private fraction = 0;
  private inFraction = false;
  private exotic = false;
  private offset = 0;

  constructor(private readonly on: JsonEvents) {}

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      switch (this.state) {
        case Lex.String:
          if (b === 0x22) this.endString();
          else {
            if (b === 0x5c) {
              this.escaped = true;
              this.state = Lex.Escape;
            } else if (b >= 0x80) this.ascii = false;
            this.keep(b);
          }
          continue;
        case Lex.Escape:
          this.keep(b);
          this.state = Lex.String;
          continue;
        case Lex.Number:
          if (isDigit(b)) {
            this.keep(b);
            if (this.digits < MAX_FAST_DIGITS) {
              this.mantissa = this.mantissa * 10 + (b - 0x30);
              if (this.mantissa > 0) this.digits++;
              if (this.inFraction) this.fraction++;
            } else this.exotic = true;
            continue;
          }
          if (b === 0x2e) {
            this.inFraction = true;
            this.keep(b);
            continue;
          }
          if (b === 0x65 || b === 0x45 || b === 0x2b || b === 0x2d) {
            this.exotic = true; // exponents: rare, left to Number()
            this.keep(b);
            continue;
          }
          this.endNumber();
          break;
        case Lex.Literal:
          if (b >= 0x61 && b <= 0x7a) {
            this.keep(b);
            continue;
          }
          this.endLiteral();
          break;
      }
      this.between(b, this.offset + i);
    }
    this.offset += n;
  }

  /** Checks the input ended at the end of a value. */
  end(): void {
    if (this.state === Lex.Number) this.endNumber();
    if (this.state === Lex.Literal) this.endLiteral();
    if (this.state !== Lex.Between || this.stack.length) throw new GraftError('JSON ends in the middle of a value (truncated file?)');
  }

  private between(b: number, at: number): void {
    switch (b) {
      case 0x20:
      case 0x0a:
      case 0x0d:
      case 0x09:
      case 0x3a: // ':'
        return;
      case 0x2c: // ','
        this.expectKey = this.stack[this.stack.length - 1] === true;
        return;
      case 0x22:
        this.state = Lex.String;
        this.length = 0;
        this.escaped = false;
        this.ascii = true;
        return;
      case 0x7b:
      case 0x5b: {
        const object = b === 0x7b;
        this.stack.push(object);
        this.expectKey = object;
        this.on.open(object ? 'object' : 'array');
        return;
      }
      case 0x7d:
      case 0x5d:
        if (this.stack.pop() !== (b === 0x7d)) throw new GraftError(`JSON: unexpected "${String.fromCharCode(b)}" at byte ${at}`);
        this.expectKey = false;
        this.on.close();
        return;
    }
    if (isDigit(b) || b === 0x2d) {
      // Plain assignments: this runs 34M times, and array destructuring here cost a quarter of the parse time.
      this.state = Lex.Number;
      this.length = 0;
      this.negative = b === 0x2d;
      this.mantissa = this.negative ? 0 : b - 0x30;
      this.digits = this.mantissa > 0 ? 1 : 0;
      this.fraction = 0;
      this.inFraction = false;
      this.exotic = false;
      this.keep(b);
      return;
    }
    if (b >= 0x61 && b <= 0x7a) {
      [this.state, this.length] = [Lex.Literal, 0];
      this.keep(b);
      return;
    }
    throw new GraftError(`JSON: unexpected byte 0x${b.toString(16)} at byte ${at}`);
  }

  private keep(b: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = b;
  }

  private text(): string {
    const raw = this.bytes.subarray(0, this.length);
    return this.ascii && raw.length < 64 ? String.fromCharCode(...raw) : utf8.decode(raw);
  }

  private endString(): void {
    this.state = Lex.Between;
    const s = this.escaped ? (JSON.parse(`"${this.text()}"`) as string) : this.text();
    if (this.expectKey) {
      this.expectKey = false;
      this.on.key(s);
    } else this.on.string(s);
  }

  private endNumber(): void {
    this.state = Lex.Between;
    let v: number;
    if (this.exotic || this.fraction >= POW10.length) {
      this.ascii = true;
      v = Number(this.text()); // signed already
      if (Number.isNaN(v)) throw new GraftError(`JSON: bad number "${this.text()}"`);
    } else v = this.negative ? -this.mantissa / POW10[this.fraction] : this.mantissa / POW10[this.fraction];
    this.on.number(v);
  }

  private endLiteral(): void {
    this.state = Lex.Between;
    this.ascii = true;
    const word = this.text();
    const value = ({ true: true, false: false, null: null } as Record<string, boolean | null>)[word];
    if (value === undefined) throw new GraftError(`JSON: unexpected "${word}"`);
    this.on.literal(value);
  }
}
