/**
 * Python jinja2 semantics for @huggingface/jinja 0.5.11, where the two differ on things real
 * chat templates do. transformers renders chat templates with Python jinja2, so a template must
 * give the same bytes here or SFT trains on different text than the model will see:
 *
 * - `str.strip(chars)` / `lstrip(chars)` / `rstrip(chars)` honour their argument (the library
 *   ignores it and strips all whitespace: Qwen3's `content.split('</think>')[-1].lstrip('\n')`
 *   then eats the indentation of a code answer);
 * - printing follows Python's str(): `None`, `True` / `False`, floats as repr (`1e+20`, `1e-05`),
 *   lists / tuples / dicts as their repr (`[1, 'a', None]`, `{'키': '값'}`);
 * - `~` concatenates str() of both sides (`none` gives "None", an undefined name "");
 * - `'%s' % x` / `'%s-%d' % (a, b)` / `'%(k)s' % d` printf-style formatting;
 * - the `round` filter (Python's round, half to even on the exact binary value; floor / ceil);
 *   `string` and `join` use str() of each item;
 * - `{% for c in 'text' %}` iterates the characters;
 * - scientific-notation literals (`1e20`, `2.5e-3`) parse, as floats.
 *
 * The library exports no runtime value classes and no hooks, so this module reaches them through
 * values the exported Interpreter produces and wraps a few of its methods, once, on first use of
 * pythonTemplate. That changes @huggingface/jinja for the whole process (this project renders
 * only chat templates with it, and Python's behaviour is the one transformers has). Everything
 * else is the library's own behaviour. Known remaining differences: integers past 2^53 lose
 * precision (JS numbers), `()` / `(x,)` tuple literals and non-string dict keys do not parse, and
 * `tojson` prints 1e20 as 100000000000000000000.
 */
import { Environment, Interpreter, Template, parse, tokenize } from '@huggingface/jinja';

/** A runtime value of @huggingface/jinja (its classes are not exported). */
interface RV {
  type: string;
  value: unknown;
  builtins: Map<string, RV>;
  toString(): string;
}
type Ctor = new (value?: unknown) => RV;
interface Node {
  type: string;
  value?: unknown;
  [k: string]: unknown;
}
type Method = (this: InterpreterLike, ...args: unknown[]) => RV;
interface InterpreterLike {
  evaluate(node: unknown, env: unknown): RV;
  evaluateArguments(args: unknown[], env: unknown): [RV[], Map<string, RV>];
}

/** Statement node types; every other node in a block body is a `{{ expression }}` (or text). */
const STATEMENTS = new Set(['Program', 'If', 'For', 'Break', 'Continue', 'Set', 'Macro', 'Comment', 'FilterStatement', 'CallStatement']);

let V: Record<'String' | 'Integer' | 'Float' | 'Boolean' | 'Null' | 'Undefined' | 'Array' | 'Tuple' | 'Object' | 'Function', Ctor> | undefined;

/* ------------------------------------------------------------------------------------------ */
/* Python str() / repr()                                                                       */
/* ------------------------------------------------------------------------------------------ */

/** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expStr] = Math.abs(x).toExponential().split('e');
  const e = Number(expStr);
  const digits = mant.replace('.', '');
  if (e < -4 || e >= 16) return `${sign}${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const int = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const frac = digits.slice(e + 1);
  return `${sign}${int}.${frac || '0'}`;
}

/** Python's repr(str): single quotes unless the text has ' and no ", escapes for the unprintable. */
export function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u.test(ch)) {
      const cp = ch.codePointAt(0)!;
      out += cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + q;
}

function pyInt(n: number): string {
  return Math.abs(n) >= 1e21 ? BigInt(n).toString() : String(n);
}

/** Python repr() of a runtime value (how items print inside a list or dict). */
export function pyRepr(v: RV): string {
  switch (v.type) {
    case 'StringValue':
      return pyStrRepr(v.value as string);
    case 'ArrayValue':
      return `[${(v.value as RV[]).map(pyRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (v.value as RV[]).map(pyRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return `{${[...(v.value as Map<string, RV>)].map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
    default:
      return pyStr(v);
  }
}

/** Python str() of a runtime value, as jinja2 prints it (an undefined name prints nothing). */
export function pyStr(v: RV): string {
  switch (v.type) {
    case 'StringValue':
      return v.value as string;
    case 'IntegerValue':
      return pyInt(v.value as number);
    case 'FloatValue':
      return pyFloatRepr(v.value as number);
    case 'BooleanValue':
      return v.value ? 'True' : 'False';
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return '';
    case 'ArrayValue':
    case 'TupleValue':
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return pyRepr(v);
    default:
      return String(v.value);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* printf-style formatting ('%s' % x)                                                          */
/* ------------------------------------------------------------------------------------------ */

function toNumber(v: RV, conv: string): number {
  if (v.type === 'IntegerValue' || v.type === 'FloatValue') return v.value as number;
  if (v.type === 'BooleanValue') return v.value ? 1 : 0;
  throw new Error(`%${conv} format: a real number is required, not ${v.type}`);
}

function expPy(x: number, prec: number, upper: boolean): string {
  const [m, e] = x.toExponential(prec).split('e');
  const n = Number(e);
  const s = `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  return upper ? s.toUpperCase() : s;
}

/** Python's `fmt % arg` for the conversions templates use: s r a d i u f F e E x X o c %. */
export function pyPercentFormat(fmt: string, arg: RV): string {
  const seq: RV[] = arg.type === 'TupleValue' ? (arg.value as RV[]) : [arg];
  const mapping = arg.type === 'ObjectValue' ? (arg.value as Map<string, RV>) : undefined;
  let next = 0;
  let usedMapping = false;
  const take = (): RV => {
    if (next >= seq.length) throw new Error('not enough arguments for format string');
    return seq[next++];
  };
  const out = fmt.replace(/%(?:\(([^)]*)\))?([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])/g, (_m, key: string | undefined, flags: string, w: string | undefined, p: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const width = w === '*' ? toNumber(take(), 'd') : w === undefined ? 0 : Number(w);
    const prec = p === '*' ? toNumber(take(), 'd') : p === undefined ? undefined : Number(p);
    let v: RV;
    if (key !== undefined) {
      if (!mapping) throw new Error('format requires a mapping');
      usedMapping = true;
      v = mapping.get(key) ?? (() => {
        throw new Error(`KeyError: ${pyStrRepr(key)}`);
      })();
    } else v = take();
    let body: string;
    let numeric = false;
    switch (conv) {
      case 's':
        body = pyStr(v);
        if (prec !== undefined) body = body.slice(0, prec);
        break;
      case 'r':
      case 'a':
        body = pyRepr(v);
        if (prec !== undefined) body = body.slice(0, prec);
        break;
      case 'd':
      case 'i':
      case 'u':
        body = pyInt(Math.trunc(toNumber(v, conv)));
        numeric = true;
        break;
      case 'f':
      case 'F':
        body = toNumber(v, conv).toFixed(prec ?? 6);
        numeric = true;
        break;
      case 'e':
      case 'E':
        body = expPy(toNumber(v, conv), prec ?? 6, conv === 'E');
        numeric = true;
        break;
      case 'x':
      case 'X':
      case 'o': {
        const n = Math.trunc(toNumber(v, conv));
        body = (n < 0 ? '-' : '') + Math.abs(n).toString(conv === 'o' ? 8 : 16);
        if (conv === 'X') body = body.toUpperCase();
        numeric = true;
        break;
      }
      case 'c':
        body = v.type === 'StringValue' ? (v.value as string) : String.fromCodePoint(toNumber(v, conv));
        break;
      default:
        throw new Error(`unsupported format character '${conv}'`);
    }
    if (numeric && !body.startsWith('-')) {
      if (flags.includes('+')) body = `+${body}`;
      else if (flags.includes(' ')) body = ` ${body}`;
    }
    if (body.length < width) {
      if (flags.includes('-')) body = body.padEnd(width);
      else if (numeric && flags.includes('0')) {
        const signed = /^[-+ ]/.test(body) ? 1 : 0;
        body = body.slice(0, signed) + body.slice(signed).padStart(width - signed, '0');
      } else body = body.padStart(width);
    }
    return body;
  });
  // a dict that no %(name) used is the single argument: '%s' % {'a': 1} prints it
  if (!(mapping && usedMapping) && next < seq.length) throw new Error('not all arguments converted during string formatting');
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* round (jinja2 filters.do_round)                                                              */
/* ------------------------------------------------------------------------------------------ */

/** Exact rational of a finite double: [numerator, denominator] (denominator a power of two). */
function exactRational(x: number): [bigint, bigint] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(x));
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  return e >= 0 ? [mant << BigInt(e), 1n] : [mant, 1n << BigInt(-e)];
}

/** Python's round(x, ndigits) on a float: half to even on the exact binary value, correctly rounded back. */
export function pyRound(x: number, ndigits = 0): number {
  if (!Number.isFinite(x) || x === 0) return x;
  let [num, den] = exactRational(x);
  if (ndigits >= 0) num *= 10n ** BigInt(ndigits);
  else den *= 10n ** BigInt(-ndigits);
  let k = num / den;
  const r2 = (num - k * den) * 2n;
  if (r2 > den || (r2 === den && k % 2n === 1n)) k += 1n;
  const mag = Number(`${k}e${-ndigits}`);
  return x < 0 ? -mag : mag;
}

/* ------------------------------------------------------------------------------------------ */
/* String methods with Python's optional `chars` argument                                      */
/* ------------------------------------------------------------------------------------------ */

function stripChars(s: string, chars: string | null, left: boolean, right: boolean): string {
  const set = chars === null ? null : new Set(Array.from(chars));
  const strip = (c: string) => (set === null ? /\s/u.test(c) : set.has(c));
  const cs = Array.from(s);
  let a = 0;
  let b = cs.length;
  if (left) while (a < b && strip(cs[a])) a++;
  if (right) while (b > a && strip(cs[b - 1])) b--;
  return cs.slice(a, b).join('');
}

/* ------------------------------------------------------------------------------------------ */
/* Installation                                                                                */
/* ------------------------------------------------------------------------------------------ */

function classesOf(): NonNullable<typeof V> {
  const env = new Environment();
  const it = new Interpreter(env) as unknown as InterpreterLike;
  const expr = (src: string): RV => {
    const prog = parse(tokenize(`{{ ${src} }}`)) as unknown as { body: Node[] };
    return it.evaluate(prog.body[0], env);
  };
  const ctor = (v: RV) => v.constructor as Ctor;
  return {
    String: ctor(expr("'a'")),
    Integer: ctor(expr('1')),
    Float: ctor(expr('1.5')),
    Boolean: ctor(env.set('__b', true)),
    Null: ctor(env.set('__n', null)),
    Undefined: ctor(expr('__not_defined__')),
    Array: ctor(expr('[1]')),
    Tuple: ctor(expr('(1, 2)')),
    Object: ctor(env.set('__o', {})),
    Function: ctor(env.set('__f', () => null)),
  };
}

function install(): void {
  if (V) return;
  V = classesOf();
  const C = V;
  const P = Interpreter.prototype as unknown as Record<string, Method>;

  // 1. str.strip / lstrip / rstrip with a `chars` argument
  const desc = Object.getOwnPropertyDescriptor(C.String.prototype, 'builtins')!;
  const patched = new WeakSet<object>();
  Object.defineProperty(C.String.prototype, 'builtins', {
    configurable: true,
    get(this: RV) {
      const m = desc.get!.call(this) as Map<string, RV>;
      if (!patched.has(m)) {
        patched.add(m);
        const s = this.value as string;
        const mk = (left: boolean, right: boolean) =>
          new C.Function((args: RV[]) => {
            const a = args[0];
            if (a !== undefined && a.type !== 'StringValue' && a.type !== 'NullValue') throw new Error('strip arg must be None or str');
            return new C.String(stripChars(s, a && a.type === 'StringValue' ? (a.value as string) : null, left, right));
          });
        m.set('strip', mk(true, true));
        m.set('lstrip', mk(true, false));
        m.set('rstrip', mk(false, true));
      }
      return m;
    },
  });

  // 2. Python str() wherever the library converts a value to text
  for (const k of ['Integer', 'Float', 'Boolean', 'Null', 'Array', 'Tuple', 'Object'] as const) {
    Object.defineProperty(C[k].prototype, 'toString', {
      configurable: true,
      writable: true,
      value(this: RV) {
        return pyStr(this);
      },
    });
  }

  // 3. `{{ none }}` prints None (the library prints nothing for any null result)
  P.evaluateBlock = function (this: InterpreterLike, statements: unknown, env: unknown): RV {
    let out = '';
    for (const st of statements as Node[]) {
      const v = this.evaluate(st, env);
      if (v.type === 'UndefinedValue') continue;
      if (v.type === 'NullValue') {
        if (!STATEMENTS.has(st.type)) out += 'None';
        continue;
      }
      out += v.toString();
    }
    return new C.String(out);
  };

  // 4. `~` on str() of both sides; `str % args`
  const binary = P.evaluateBinaryExpression;
  P.evaluateBinaryExpression = function (this: InterpreterLike, node: unknown, env: unknown): RV {
    const n = node as { operator: { value: string }; left: Node; right: Node };
    const op = n.operator.value;
    if (op === '~') return new C.String(pyStr(this.evaluate(n.left, env)) + pyStr(this.evaluate(n.right, env)));
    if (op === '%') {
      const left = this.evaluate(n.left, env);
      if (left.type === 'StringValue') return new C.String(pyPercentFormat(left.value as string, this.evaluate(n.right, env)));
      const [ident, scope] = bind(env, left); // numbers: the library's own modulo, left evaluated once
      return binary.call(this, { ...n, left: ident }, scope);
    }
    return binary.call(this, node, env);
  };

  // 5. filters: round, string, join on str() of items
  const applyFilter = P.applyFilter;
  P.applyFilter = function (this: InterpreterLike, operand: unknown, filterNode: unknown, env: unknown): RV {
    const o = operand as RV;
    const f = filterNode as Node & { callee?: Node; args?: unknown[] };
    const name = f.type === 'Identifier' ? (f.value as string) : f.type === 'CallExpression' && f.callee?.type === 'Identifier' ? (f.callee.value as string) : undefined;
    const [args, kwargs] = f.type === 'CallExpression' && (name === 'round' || name === 'join') ? this.evaluateArguments(f.args ?? [], env) : [[], new Map<string, RV>()];
    if (name === 'round' && (o.type === 'IntegerValue' || o.type === 'FloatValue' || o.type === 'BooleanValue')) {
      const precision = args[0] ?? kwargs.get('precision');
      const method = args[1] ?? kwargs.get('method');
      const nd = precision ? toNumber(precision, 'd') : 0;
      const how = method ? String(method.value) : 'common';
      const x = toNumber(o, 'f');
      if (how === 'common') return o.type === 'FloatValue' ? new C.Float(pyRound(x, nd)) : new C.Integer(pyRound(x, nd));
      if (how !== 'floor' && how !== 'ceil') throw new Error('method must be common, ceil or floor');
      const scale = 10 ** nd;
      return new C.Float((how === 'floor' ? Math.floor(x * scale) : Math.ceil(x * scale)) / scale);
    }
    if (name === 'string' && f.type === 'Identifier') return new C.String(pyStr(o));
    if (name === 'join' && (o.type === 'ArrayValue' || o.type === 'TupleValue' || o.type === 'StringValue')) {
      const sep = args[0] ?? kwargs.get('d') ?? kwargs.get('separator');
      const items: RV[] = o.type === 'StringValue' ? Array.from(o.value as string).map((c) => new C.String(c)) : (o.value as RV[]);
      if (!kwargs.has('attribute')) return new C.String(items.map(pyStr).join(sep ? pyStr(sep) : ''));
    }
    return applyFilter.call(this, operand, filterNode, env);
  };

  // 6. `for c in 'text'` iterates the characters. The iterable is evaluated once and handed to
  // the library's loop through a scope variable, so nothing is evaluated twice.
  const evaluateFor = P.evaluateFor;
  P.evaluateFor = function (this: InterpreterLike, node: unknown, env: unknown): RV {
    const n = node as { iterable: Node & { lhs?: Node } };
    const select = n.iterable.type === 'SelectExpression';
    const v = this.evaluate(select ? n.iterable.lhs! : n.iterable, env);
    const [ident, scope] = bind(env, v.type === 'StringValue' ? new C.Array(Array.from(v.value as string).map((c) => new C.String(c))) : v);
    return evaluateFor.call(this, { ...(node as object), iterable: select ? { ...n.iterable, lhs: ident } : ident }, scope);
  };
}

const BOUND = '__ko_align_bound__';

/** A child scope holding `v` under a reserved name, and an Identifier node that reads it. */
function bind(env: unknown, v: RV): [Node, Environment] {
  const scope = new Environment(env as Environment);
  scope.setVariable(BOUND, v as unknown as Parameters<Environment['setVariable']>[1]);
  return [{ type: 'Identifier', value: BOUND }, scope];
}

interface Token {
  value: string;
  type: string;
}

/**
 * Merges the tokens the library splits a scientific literal into (`1e20` -> 1, e20;
 * `2.5e-3` -> 2.5, e, -, 3) back into one float literal. A number directly followed by such an
 * identifier is never valid Jinja otherwise.
 */
function mergeExponents(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const n1 = tokens[i + 1];
    if (t.type === 'NumericLiteral' && n1?.type === 'Identifier') {
      const m = /^[eE](\d*)$/.exec(n1.value);
      if (m && m[1] !== '') {
        out.push(Object.assign(Object.create(Object.getPrototypeOf(t)), t, { value: floatLiteral(`${t.value}e${m[1]}`) }));
        i += 1;
        continue;
      }
      const n2 = tokens[i + 2];
      const n3 = tokens[i + 3];
      if (m && n2?.type === 'AdditiveBinaryOperator' && n3?.type === 'NumericLiteral' && /^\d+$/.test(n3.value)) {
        out.push(Object.assign(Object.create(Object.getPrototypeOf(t)), t, { value: floatLiteral(`${t.value}e${n2.value}${n3.value}`) }));
        i += 3;
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

/** A literal text the library parses as a float (it looks for a '.') with the same value. */
function floatLiteral(sci: string): string {
  const [m, e] = sci.split(/e/i);
  return `${m.includes('.') ? m : `${m}.0`}e${e}`;
}

/** Parses a template with Python jinja2 semantics installed (trim_blocks, lstrip_blocks as transformers sets them). */
export function pythonTemplate(source: string): Template {
  install();
  const tokens = mergeExponents(tokenize(source, { lstrip_blocks: true, trim_blocks: true }) as unknown as Token[]);
  const t = Object.create(Template.prototype) as Template;
  t.parsed = parse(tokens as unknown as Parameters<typeof parse>[0]);
  return t;
}
