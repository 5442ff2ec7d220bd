/**
 * The offline review page: one self-contained HTML file (no network, no external assets) in
 * which a reviewer reads each item, decides accept / reject, rates 1-5 and comments with the
 * keyboard, and downloads the decisions as JSON for `ko-align review import`.
 *
 * Safety: sample text never becomes markup. The items travel as JSON inside a non-executed
 * <script type="application/json"> block with < > & U+2028 U+2029 escaped (so "</script>" in a
 * sample cannot close it), and the page script writes them with textContent only. On top of
 * that a Content-Security-Policy allows only the page's own script and style (by hash) and no
 * network at all, so even a hypothetical escaping bug could not run an injected script.
 */
import { createHash } from 'node:crypto';
import type { ReviewItem } from './items.ts';
import type { Decision } from './decisions.ts';
import { RATING_MAX, normalizeRating, requireDecision, textOrNull, timeOrNull } from './decisions.ts';
import { UserError } from '../util/errors.ts';

export const DECISIONS_KIND = 'ko-align-review-decisions';

export interface HtmlPageOptions {
  threshold: number;
  /** Shown in the page title and the decisions file, e.g. the input file name. */
  title?: string;
}

/** JSON that is safe inside a <script> element and in any HTML context. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text escaped for HTML element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** A stable id for one export: the item ids in order and the threshold. */
export function exportIdOf(items: readonly ReviewItem[], threshold: number): string {
  const h = createHash('sha256');
  h.update(`threshold=${threshold}\n`);
  for (const it of items) h.update(`${it.id}\n`);
  return h.digest('hex').slice(0, 16);
}

export function reviewPage(items: readonly ReviewItem[], opts: HtmlPageOptions): string {
  const exportId = exportIdOf(items, opts.threshold);
  const payload = {
    kind: 'ko-align-review-export',
    version: 1,
    export_id: exportId,
    threshold: opts.threshold,
    rating_max: RATING_MAX,
    title: opts.title ?? '',
    items: items.map((it) => ({
      id: it.id,
      prompt: it.prompt,
      answer: it.answer,
      judge_score: it.judge_score,
      judge_reason: it.judge_reason,
      judge_status: it.judge_status,
      judge_accept: it.judge_accept,
    })),
  };
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(PAGE_SCRIPT)}`,
    `style-src ${cspHash(PAGE_STYLE)}`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const title = `ko-align 검수${opts.title ? ` — ${opts.title}` : ''} (${items.length}개 항목)`;
  return `<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header id="top">
  <div class="brand">ko-align 검수 <span class="muted" id="meta-count"></span></div>
  <label class="reviewer">검수자 <input id="reviewer" type="text" autocomplete="name" placeholder="이름 또는 이메일" maxlength="100"></label>
  <div class="progress" aria-live="polite"><div class="bar"><div class="fill" id="progress-fill"></div></div><span id="progress-text"></span></div>
  <button type="button" id="download" class="primary" title="단축키 D">결정 내려받기 <kbd>D</kbd></button>
</header>
<noscript><p class="notice">이 페이지는 JavaScript가 필요합니다. (This page needs JavaScript.)</p></noscript>
<p class="notice" id="message" role="status" hidden></p>
<main>
  <nav id="map" aria-label="항목 목록"></nav>
  <article id="card" aria-live="polite">
    <div class="card-head">
      <span id="position"></span>
      <span class="muted mono" id="item-id"></span>
      <span class="status-badge" id="status-badge"></span>
    </div>
    <section class="judge" id="judge">
      <div><b>판정 모델</b> <span id="judge-score"></span> <span id="judge-verdict" class="verdict"></span></div>
      <div class="muted" id="judge-reason"></div>
    </section>
    <h2>지시문 <span class="muted">instruction</span></h2>
    <div class="text" id="prompt"></div>
    <h2>답변 <span class="muted">answer</span></h2>
    <div class="text" id="answer"></div>
    <section class="controls">
      <div class="row">
        <button type="button" id="btn-accept" class="decide accept">수락 <kbd>A</kbd></button>
        <button type="button" id="btn-reject" class="decide reject">거절 <kbd>R</kbd></button>
        <span class="sep"></span>
        <span class="label">품질</span>
        <span id="rating-buttons"></span>
        <button type="button" id="btn-clear" class="small" title="이 항목의 결정을 지웁니다">지우기 <kbd>U</kbd></button>
      </div>
      <label class="comment">의견 <kbd>C</kbd> <span class="muted">(입력 후 Esc)</span>
        <textarea id="comment" rows="2" placeholder="판단 근거나 고칠 점"></textarea>
      </label>
      <div class="row nav">
        <button type="button" id="btn-prev">← 이전 <kbd>K</kbd></button>
        <button type="button" id="btn-next">다음 <kbd>J</kbd> →</button>
        <button type="button" id="btn-next-open">다음 미검수 <kbd>N</kbd></button>
        <label class="small-label"><input type="checkbox" id="auto-advance" checked> 결정하면 다음 항목으로</label>
        <label class="small-label"><input type="checkbox" id="hide-judge"> 판정 모델 정보 숨기기 <kbd>H</kbd></label>
      </div>
    </section>
  </article>
  <aside id="help">
    <h3>단축키</h3>
    <dl>
      <dt><kbd>A</kbd></dt><dd>수락 (accept)</dd>
      <dt><kbd>R</kbd> <kbd>X</kbd></dt><dd>거절 (reject)</dd>
      <dt><kbd>1</kbd>–<kbd>${RATING_MAX}</kbd></dt><dd>품질 점수, <kbd>0</kbd> 지움</dd>
      <dt><kbd>J</kbd> <kbd>→</kbd></dt><dd>다음 항목</dd>
      <dt><kbd>K</kbd> <kbd>←</kbd></dt><dd>이전 항목</dd>
      <dt><kbd>N</kbd></dt><dd>다음 미검수 항목</dd>
      <dt><kbd>C</kbd></dt><dd>의견 입력 (<kbd>Esc</kbd>로 나가기)</dd>
      <dt><kbd>U</kbd></dt><dd>이 항목 결정 지우기</dd>
      <dt><kbd>H</kbd></dt><dd>판정 모델 정보 숨기기/보이기</dd>
      <dt><kbd>D</kbd></dt><dd>결정 JSON 내려받기</dd>
    </dl>
    <p class="muted">한글 입력 상태에서도 단축키가 동작합니다. 결정은 이 브라우저에 자동 저장되며, 끝나면 JSON을 내려받아 <code>ko-align review import</code>에 넘기세요.</p>
  </aside>
</main>
<script type="application/json" id="review-data">${scriptSafeJson(payload)}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Reading the page's decisions file.

export function isHtmlDecisions(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>).kind === DECISIONS_KIND;
}

export function parseHtmlDecisions(v: unknown, file: string): Decision[] {
  if (!isHtmlDecisions(v)) throw new UserError(`${file}: expected a decisions file from the review page (kind "${DECISIONS_KIND}")`);
  const o = v as Record<string, unknown>;
  if (o.version !== 1) throw new UserError(`${file}: unsupported decisions version ${JSON.stringify(o.version)}, expected 1`);
  const list = o.decisions;
  if (!Array.isArray(list)) throw new UserError(`${file}: "decisions" must be a list`);
  const fileReviewer = textOrNull(o.reviewer);
  const out: Decision[] = [];
  list.forEach((d, i) => {
    const where = `${file}: decisions[${i}]`;
    if (!d || typeof d !== 'object') throw new UserError(`${where}: expected an object`);
    const r = d as Record<string, unknown>;
    const id = textOrNull(r.id);
    if (id === null) throw new UserError(`${where}: missing id`);
    const decision = requireDecision(r.decision, `${where}.decision`);
    const rating = normalizeRating(r.rating, `${where}.rating`);
    const comment = textOrNull(r.comment);
    if (decision === null && rating === null && comment === null) return;
    out.push({
      id,
      decision,
      rating,
      comment,
      reviewer: textOrNull(r.reviewer) ?? fileReviewer,
      reviewed_at: timeOrNull(r.reviewed_at),
      source: where,
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The page's style and script. Kept as plain strings (no template placeholders) so their CSP
// hashes are computed over exactly the bytes in the page.

const PAGE_STYLE = `
:root { --fg:#1d2330; --muted:#6b7280; --line:#d9dee7; --bg:#f6f7f9; --card:#fff; --accept:#12805c; --reject:#c0392b; --accent:#2f5bd3; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font: 16px/1.7 "Pretendard", "Apple SD Gothic Neo", "Malgun Gothic", "맑은 고딕", "Noto Sans KR", "Noto Sans CJK KR", "NanumGothic", system-ui, sans-serif; }
header { position:sticky; top:0; z-index:2; display:flex; gap:16px; align-items:center; flex-wrap:wrap; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
.brand { font-weight:700; }
.muted { color:var(--muted); font-weight:400; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:12px; }
.reviewer input { font:inherit; padding:3px 8px; border:1px solid var(--line); border-radius:6px; width:14em; }
.progress { display:flex; align-items:center; gap:8px; flex:1; min-width:220px; }
.bar { flex:1; height:8px; background:#e5e8ee; border-radius:4px; overflow:hidden; }
.fill { height:100%; width:0; background:var(--accent); }
button { font:inherit; padding:6px 14px; border:1px solid var(--line); border-radius:8px; background:#fff; cursor:pointer; }
button:hover { border-color:#a9b3c4; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button.small { padding:3px 10px; font-size:14px; }
kbd { display:inline-block; min-width:1.4em; padding:0 4px; border:1px solid #c5ccd8; border-bottom-width:2px; border-radius:4px; background:#f3f5f8; color:#333; font: 12px/1.5 ui-monospace, Menlo, Consolas, monospace; text-align:center; }
button.primary kbd { background:rgba(255,255,255,.2); color:#fff; border-color:rgba(255,255,255,.5); }
.notice { margin:10px 20px; padding:8px 12px; background:#fff7e0; border:1px solid #f0d890; border-radius:8px; }
main { display:grid; grid-template-columns: 150px minmax(0, 1fr) 240px; gap:20px; padding:20px; max-width:1400px; margin:0 auto; }
#map { display:flex; flex-wrap:wrap; gap:3px; align-content:flex-start; }
#map button { width:22px; height:22px; padding:0; border-radius:4px; font-size:0; background:#e5e8ee; border:1px solid transparent; }
#map button.accept { background:var(--accept); }
#map button.reject { background:var(--reject); }
#map button.partial { background:#f0c36d; }
#map button.current { border:2px solid var(--fg); }
#card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:18px 24px; min-width:0; }
.card-head { display:flex; gap:12px; align-items:baseline; }
#position { font-weight:700; }
.status-badge { margin-left:auto; padding:2px 10px; border-radius:999px; font-size:14px; background:#eef0f4; }
.status-badge.accept { background:#dff3ea; color:var(--accept); }
.status-badge.reject { background:#fbe3e0; color:var(--reject); }
.judge { margin:10px 0 4px; padding:8px 12px; background:#f3f5fa; border-radius:8px; font-size:15px; }
.judge.hidden { display:none; }
.verdict.accept { color:var(--accept); font-weight:700; }
.verdict.reject { color:var(--reject); font-weight:700; }
h2 { font-size:15px; margin:16px 0 4px; }
.text { white-space:pre-wrap; word-break:keep-all; overflow-wrap:anywhere; padding:10px 14px; border:1px solid var(--line); border-radius:8px; background:#fcfcfd; font-size:17px; max-height:45vh; overflow:auto; }
.controls { margin-top:16px; border-top:1px solid var(--line); padding-top:12px; }
.row { display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
.sep { width:12px; }
.label { color:var(--muted); }
.decide { min-width:110px; font-weight:700; }
.decide.accept.on { background:var(--accept); color:#fff; border-color:var(--accept); }
.decide.reject.on { background:var(--reject); color:#fff; border-color:var(--reject); }
.rate { min-width:40px; padding:6px 0; }
.rate.on { background:var(--accent); color:#fff; border-color:var(--accent); }
.comment { display:block; margin:12px 0; color:var(--muted); }
.comment textarea { display:block; width:100%; margin-top:4px; font:inherit; color:var(--fg); padding:6px 10px; border:1px solid var(--line); border-radius:8px; resize:vertical; }
.nav { margin-top:6px; }
.small-label { font-size:14px; color:var(--muted); margin-left:8px; }
#help { font-size:14px; }
#help dl { display:grid; grid-template-columns:auto 1fr; gap:4px 10px; margin:0 0 12px; }
#help dt { white-space:nowrap; }
#help dd { margin:0; }
@media (max-width: 1000px) { main { grid-template-columns: 1fr; } #help { order:3; } #map { order:2; } }
`;

const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('review-data').textContent);
  var items = data.items;
  var ratingMax = data.rating_max;
  var storeKey = 'ko-align-review:' + data.export_id;
  var state = { index: 0, reviewer: '', decisions: {} };
  var $ = function (id) { return document.getElementById(id); };

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || 'null');
      if (saved && typeof saved === 'object') {
        state.reviewer = typeof saved.reviewer === 'string' ? saved.reviewer : '';
        state.decisions = saved.decisions && typeof saved.decisions === 'object' ? saved.decisions : {};
        if (typeof saved.index === 'number' && saved.index >= 0 && saved.index < items.length) state.index = saved.index;
      }
    } catch (e) { /* storage unavailable: decisions live in memory until downloaded */ }
  }
  function save() {
    try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }
  function entry(id) { return state.decisions[id] || null; }
  function isDone(d) { return !!(d && d.decision); }
  function hasAny(d) { return !!(d && (d.decision || d.rating || d.comment)); }
  function update(fields) {
    var it = items[state.index];
    var d = entry(it.id) || { decision: null, rating: null, comment: null };
    for (var k in fields) if (Object.prototype.hasOwnProperty.call(fields, k)) d[k] = fields[k];
    d.reviewed_at = new Date().toISOString();
    if (hasAny(d)) state.decisions[it.id] = d; else delete state.decisions[it.id];
    save();
  }
  function message(text) {
    var m = $('message');
    m.textContent = text;
    m.hidden = !text;
  }

  function renderMap() {
    var map = $('map');
    if (map.childElementCount !== items.length) {
      while (map.firstChild) map.removeChild(map.firstChild);
      items.forEach(function (it, i) {
        var b = document.createElement('button');
        b.type = 'button';
        b.title = (i + 1) + '번 항목';
        b.setAttribute('aria-label', (i + 1) + '번 항목');
        b.addEventListener('click', function () { go(i); });
        map.appendChild(b);
      });
    }
    items.forEach(function (it, i) {
      var d = entry(it.id);
      var cls = isDone(d) ? d.decision : hasAny(d) ? 'partial' : '';
      if (i === state.index) cls += ' current';
      map.children[i].className = cls;
    });
  }
  function renderProgress() {
    var done = 0, acc = 0, rej = 0;
    items.forEach(function (it) {
      var d = entry(it.id);
      if (isDone(d)) { done++; if (d.decision === 'accept') acc++; else rej++; }
    });
    $('progress-fill').style.width = (items.length ? (100 * done / items.length) : 0) + '%';
    $('progress-text').textContent = '검수 ' + done + ' / ' + items.length + ' · 수락 ' + acc + ' · 거절 ' + rej;
  }
  function render() {
    var it = items[state.index];
    var d = entry(it.id) || {};
    $('position').textContent = '항목 ' + (state.index + 1) + ' / ' + items.length;
    $('item-id').textContent = 'id ' + it.id;
    $('prompt').textContent = it.prompt;
    $('answer').textContent = it.answer;
    var hasScore = it.judge_score !== null && it.judge_score !== undefined;
    $('judge-score').textContent = hasScore ? (it.judge_score + '점 (기준 ' + data.threshold + ')') : '점수 없음';
    var v = $('judge-verdict');
    v.className = 'verdict' + (it.judge_accept === true ? ' accept' : it.judge_accept === false ? ' reject' : '');
    v.textContent = it.judge_accept === true ? '→ 수락' : it.judge_accept === false ? '→ 거절' : (it.judge_status && it.judge_status !== 'ok' ? '→ 판정 실패 (' + it.judge_status + ')' : '');
    $('judge-reason').textContent = it.judge_reason || '';
    var badge = $('status-badge');
    badge.className = 'status-badge' + (d.decision ? ' ' + d.decision : '');
    badge.textContent = d.decision === 'accept' ? '수락함' : d.decision === 'reject' ? '거절함' : '미검수';
    $('btn-accept').className = 'decide accept' + (d.decision === 'accept' ? ' on' : '');
    $('btn-reject').className = 'decide reject' + (d.decision === 'reject' ? ' on' : '');
    var rb = $('rating-buttons').children;
    for (var i = 0; i < rb.length; i++) rb[i].className = 'rate' + (d.rating === i + 1 ? ' on' : '');
    var c = $('comment');
    if (document.activeElement !== c) c.value = d.comment || '';
    renderMap();
    renderProgress();
  }
  function go(i) {
    if (items.length === 0) return;
    state.index = Math.max(0, Math.min(items.length - 1, i));
    save();
    render();
    window.scrollTo(0, 0);
  }
  function nextOpen() {
    for (var k = 1; k <= items.length; k++) {
      var j = (state.index + k) % items.length;
      if (!isDone(entry(items[j].id))) { go(j); return; }
    }
    message('모든 항목을 검수했습니다. D를 눌러 결정을 내려받으세요.');
  }
  function decide(decision) {
    update({ decision: decision });
    render();
    if ($('auto-advance').checked && state.index < items.length - 1) go(state.index + 1);
  }
  function rate(n) {
    update({ rating: n > 0 ? n : null });
    render();
  }
  function clearItem() {
    delete state.decisions[items[state.index].id];
    save();
    render();
  }
  function toggleJudge() {
    var cb = $('hide-judge');
    cb.checked = !cb.checked;
    applyJudgeVisibility();
  }
  function applyJudgeVisibility() {
    $('judge').className = 'judge' + ($('hide-judge').checked ? ' hidden' : '');
  }

  function decisionsDocument() {
    var reviewer = state.reviewer.trim();
    var list = [];
    items.forEach(function (it) {
      var d = entry(it.id);
      if (!hasAny(d)) return;
      list.push({ id: it.id, decision: d.decision || null, rating: d.rating || null, comment: d.comment || null, reviewer: reviewer, reviewed_at: d.reviewed_at || null });
    });
    return {
      kind: 'ko-align-review-decisions', version: 1, export_id: data.export_id, threshold: data.threshold,
      reviewer: reviewer, saved_at: new Date().toISOString(), items: items.length, decisions: list
    };
  }
  function download() {
    if (!state.reviewer.trim()) {
      message('검수자 이름을 먼저 입력하세요. 이름이 있어야 여러 검수자의 결정을 구분할 수 있습니다.');
      $('reviewer').focus();
      return;
    }
    var doc = decisionsDocument();
    var blob = new Blob([JSON.stringify(doc, null, 2) + '\n'], { type: 'application/json' });
    var safe = state.reviewer.trim().replace(/[^\p{L}\p{N}_.-]+/gu, '_').slice(0, 40);
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'ko-align-decisions-' + data.export_id.slice(0, 8) + '-' + safe + '.json';
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    message('결정 ' + doc.decisions.length + '개를 내려받았습니다.');
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var t = e.target;
    var typing = t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type === 'text'));
    if (typing) {
      if (e.key === 'Escape') { t.blur(); e.preventDefault(); }
      return;
    }
    // event.code names the physical key, so shortcuts work with the Korean (2-beolsik) layout too.
    var code = e.code;
    var digit = /^(Digit|Numpad)([0-9])$/.exec(code);
    var handled = true;
    if (code === 'KeyA') decide('accept');
    else if (code === 'KeyR' || code === 'KeyX') decide('reject');
    else if (digit && Number(digit[2]) <= ratingMax) rate(Number(digit[2]));
    else if (code === 'KeyJ' || code === 'ArrowRight') go(state.index + 1);
    else if (code === 'KeyK' || code === 'ArrowLeft') go(state.index - 1);
    else if (code === 'KeyN') nextOpen();
    else if (code === 'KeyU') clearItem();
    else if (code === 'KeyH') toggleJudge();
    else if (code === 'KeyD') download();
    else if (code === 'KeyC') $('comment').focus();
    else handled = false;
    if (handled) e.preventDefault();
  }

  function init() {
    load();
    $('meta-count').textContent = '· ' + items.length + '개 항목' + (data.title ? ' · ' + data.title : '');
    var rb = $('rating-buttons');
    for (var n = 1; n <= ratingMax; n++) {
      (function (n) {
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'rate';
        b.textContent = String(n);
        b.title = '품질 ' + n + '점 (단축키 ' + n + ')';
        b.addEventListener('click', function () { rate(entry(items[state.index].id) && entry(items[state.index].id).rating === n ? 0 : n); });
        rb.appendChild(b);
      })(n);
    }
    var reviewer = $('reviewer');
    reviewer.value = state.reviewer;
    reviewer.addEventListener('input', function () { state.reviewer = reviewer.value; save(); if (reviewer.value.trim()) message(''); });
    $('comment').addEventListener('input', function (e) { update({ comment: e.target.value || null }); renderMap(); });
    $('btn-accept').addEventListener('click', function () { decide('accept'); });
    $('btn-reject').addEventListener('click', function () { decide('reject'); });
    $('btn-clear').addEventListener('click', clearItem);
    $('btn-prev').addEventListener('click', function () { go(state.index - 1); });
    $('btn-next').addEventListener('click', function () { go(state.index + 1); });
    $('btn-next-open').addEventListener('click', nextOpen);
    $('download').addEventListener('click', download);
    $('hide-judge').addEventListener('change', applyJudgeVisibility);
    document.addEventListener('keydown', onKey);
    if (items.length === 0) { message('검수할 항목이 없습니다.'); $('card').hidden = true; return; }
    render();
  }
  init();
})();
`;
