/**
 * Builds datasets/ko-instruct-sample.jsonl: a Korean instruction sample written for ko-align,
 * with ground truth (`gt_issue`) for every row so tests can measure each curation stage's
 * precision and recall. Deterministic: the same script always writes the same file.
 *
 *   node --import tsx datasets/tools/make-sample.ts [out.jsonl]
 *
 * gt_issue values: clean | code_switch | pii | near_dup | refusal | repetition | toxic | too_short.
 * Rows are alpaca-style ({instruction, input?, output}) or multi-turn ({messages}); both
 * carry `sample_id`, `topic` and `gt_issue`. PII values are synthetic (fake people; the RRNs and
 * card numbers only have valid checksums).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as C from './sample-clean.ts';
import * as I from './sample-issues.ts';
import { mulberry32 } from '../../src/util/random.ts';

type Row = Record<string, unknown>;

const rand = mulberry32(20240517);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const digits = (n: number) => Array.from({ length: n }, () => String(int(0, 9))).join('');

// ---- synthetic PII values -------------------------------------------------------------------
const EMAIL_USERS = ['minsu.kim', 'jiyoung.park', 'seojun_lee', 'hyunwoo.choi', 'sohee.han', 'doyun.jung', 'seoyeon.yoon', 'minho.jang', 'jihoon.oh', 'yerin.shin'];
const EMAIL_DOMAINS = ['example.com', 'example.co.kr', 'mail.example.org', 'test-company.kr'];
const email = () => `${pick(EMAIL_USERS)}${int(1, 99)}@${pick(EMAIL_DOMAINS)}`;
const mobile = () => `010-${int(2000, 9999)}-${digits(4)}`;
const landline = () => pick([`02-${int(200, 999)}-${digits(4)}`, `031-${int(200, 999)}-${digits(4)}`, `051-${int(2000, 9999)}-${digits(4)}`, `042-${int(200, 999)}-${digits(4)}`]);
function rrn(): string {
  const y = int(60, 99);
  const m = int(1, 12);
  const d = int(1, 28);
  const front = `${String(y).padStart(2, '0')}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`;
  const body = `${front}${pick(['1', '2'])}${digits(5)}`;
  const w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  let s = 0;
  for (let i = 0; i < 12; i++) s += Number(body[i]) * w[i];
  const check = (11 - (s % 11)) % 10;
  return `${front}-${body.slice(6)}${check}`;
}
function card(): string {
  const body = `${pick(['4', '5'])}${digits(14)}`;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let x = Number(body[14 - i]);
    if (i % 2 === 0) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  const all = body + String((10 - (sum % 10)) % 10);
  return all.match(/.{4}/g)!.join('-');
}
const ipv4 = () => pick([`192.168.${int(0, 255)}.${int(1, 254)}`, `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`, `203.0.113.${int(1, 254)}`]);
const ipv6 = () => `2001:db8:${int(1, 0xffff).toString(16)}::${int(1, 0xffff).toString(16)}`;

function fillPii(s: string): string {
  return s
    .replace(/\{EMAIL2?\}/g, email)
    .replace(/\{MOBILE2?\}/g, mobile)
    .replace(/\{LANDLINE\}/g, landline)
    .replace(/\{RRN\}/g, rrn)
    .replace(/\{CARD\}/g, card)
    .replace(/\{IPV4\}/g, ipv4)
    .replace(/\{IPV6\}/g, ipv6);
}

// ---- near-duplicates: light edits of a clean row --------------------------------------------
const TAILS = ['도움이 되셨길 바랍니다.', '궁금한 점이 있으면 또 물어봐 주세요.', '참고가 되었으면 좋겠습니다.'];
function nearDup(ins: string, out: string, k: number): [string, string] {
  switch (k % 4) {
    case 0: // punctuation and spacing only: the same text once simplified (exact duplicate)
      return [ins.replace(/[?.]$/, '!'), out.replace(/\. /g, '.  ').replace(/\.$/, '!')];
    case 1:
      return [`혹시 ${ins}`, `네, ${out} ${TAILS[k % TAILS.length]}`];
    case 2:
      return [ins.replace('알려주세요', '알려 주세요').replace('설명해 주세요', '설명 부탁드려요'), `${out} ${TAILS[(k + 1) % TAILS.length]}`];
    default:
      return [ins, `좋은 질문입니다. ${out}`];
  }
}

// ---- assemble ------------------------------------------------------------------------------
const topics: [string, C.Pair[]][] = [
  ['cooking', C.COOKING], ['history', C.HISTORY], ['science', C.SCIENCE], ['coding', C.CODING],
  ['travel', C.TRAVEL], ['health', C.HEALTH], ['law', C.LAW], ['economy', C.ECONOMY],
  ['language', C.LANGUAGE], ['life', C.LIFE], ['environment', C.ENVIRONMENT], ['career', C.CAREER],
  ['culture', C.CULTURE], ['numbers', C.PII_LOOKALIKES],
];

const base: Row[] = [];
const cleanSingles: Row[] = [];
for (const [topic, pairs] of topics) {
  for (const [instruction, output] of pairs) {
    const r = { instruction, output, topic, gt_issue: 'clean' };
    base.push(r);
    cleanSingles.push(r);
  }
}
// alpaca rows with a separate input field
const WITH_INPUT: [string, string, string][] = [
  ['다음 글을 한 문장으로 요약해 주세요.', '지난달 시청은 자전거 도로를 넓히고 공영 자전거 대여소를 두 배로 늘리는 계획을 발표했다. 시는 출퇴근 시간의 교통 혼잡을 줄이고 탄소 배출을 낮추는 것이 목표라고 밝혔다.', '시청은 교통 혼잡과 탄소 배출을 줄이기 위해 자전거 도로를 넓히고 공영 자전거 대여소를 두 배로 늘리기로 했습니다.'],
  ['다음 문장의 맞춤법을 고쳐 주세요.', '오늘은 왠지 일이 잘 안되서 기분이 않 좋다.', '고친 문장은 "오늘은 왠지 일이 잘 안돼서 기분이 안 좋다."입니다. "안되서"는 "안되어서"의 준말이므로 "안돼서"로, 부정의 뜻인 "않"은 용언 앞에 쓸 때 "안"으로 써야 합니다.'],
  ['다음 단어들을 가나다순으로 정렬해 주세요.', '사과, 바나나, 귤, 포도, 딸기', '가나다순으로 정렬하면 귤, 딸기, 바나나, 사과, 포도 순서가 됩니다.'],
];
for (const [instruction, input, output] of WITH_INPUT) base.push({ instruction, input, output, topic: 'task', gt_issue: 'clean' });
for (const messages of I.MULTI_TURN) base.push({ messages, topic: 'multi_turn', gt_issue: 'clean' });

const add = (pairs: C.Pair[], gt: string, topic: string, f: (s: string) => string = (s) => s) => {
  for (const [instruction, output] of pairs) base.push({ instruction: f(instruction), output: f(output), topic, gt_issue: gt });
};
add(I.CODE_SWITCH, 'code_switch', 'mixed');
add(I.PII, 'pii', 'mixed', fillPii);
add(I.REFUSAL, 'refusal', 'mixed');
add(I.REPETITION, 'repetition', 'mixed');
add(I.TOXIC, 'toxic', 'mixed');
add(I.TOO_SHORT, 'too_short', 'mixed');

// Deterministic shuffle, then near-duplicates inserted somewhere after their original.
for (let i = base.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [base[i], base[j]] = [base[j], base[i]];
}
const sources = cleanSingles.filter((r) => (r.output as string).length > 80).filter((_, i) => i % 6 === 0).slice(0, 25);
if (sources.length < 25) throw new Error(`only ${sources.length} near-dup sources`);
sources.forEach((src, k) => {
  const [instruction, output] = nearDup(src.instruction as string, src.output as string, k);
  const at = base.indexOf(src);
  const pos = int(at + 1, base.length);
  base.splice(pos, 0, { instruction, output, topic: src.topic, gt_issue: 'near_dup', dup_of: '' });
  src.__dupKey = k;
});

const rows = base.map((r, i) => {
  const { __dupKey, ...rest } = r;
  void __dupKey;
  return { sample_id: `ko-${String(i + 1).padStart(4, '0')}`, ...rest };
});
// near_dup rows name the sample they copy
for (const r of rows) {
  if (r.gt_issue !== 'near_dup') continue;
  const src = rows.find((s) => s.gt_issue === 'clean' && s.topic === r.topic && typeof s.output === 'string' && (r.output as string).includes((s.output as string).slice(20, 60).replace(/\. /g, '.')) );
  const src2 = src ?? rows.find((s) => s.gt_issue === 'clean' && s.topic === r.topic && typeof s.output === 'string' && (s.output as string).slice(0, 15) === (r.output as string).replace(/^(네, |좋은 질문입니다\. )/, '').slice(0, 15));
  r.dup_of = src2 ? src2.sample_id : '';
  if (!r.dup_of) throw new Error(`near_dup ${r.sample_id} has no source`);
}

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '..', 'ko-instruct-sample.jsonl');
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
const counts: Record<string, number> = {};
for (const r of rows) counts[r.gt_issue as string] = (counts[r.gt_issue as string] ?? 0) + 1;
process.stderr.write(`wrote ${rows.length} rows to ${out}: ${JSON.stringify(counts)}\n`);
