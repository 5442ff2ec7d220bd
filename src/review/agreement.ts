/**
 * Agreement between the judge's verdicts and the reviewers' decisions on the same items:
 * accuracy (observed agreement) and Cohen's kappa, with the 2x2 table they come from.
 */

export interface Agreement {
  /** Items with both a judge verdict and one (non-conflicting) human decision. */
  n: number;
  /** Fraction of those items where the judge and the reviewer agree; null when n = 0. */
  accuracy: number | null;
  /**
   * Cohen's kappa, (p_o - p_e) / (1 - p_e); null when undefined (n = 0, or both raters used a
   * single class so p_e = 1).
   */
  kappa: number | null;
  /** Counts: judge verdict x human decision. */
  table: { judge_accept_human_accept: number; judge_accept_human_reject: number; judge_reject_human_accept: number; judge_reject_human_reject: number };
  /** The judge's acceptance threshold on judge_score used for the verdicts. */
  threshold: number;
}

/** Agreement over pairs (judge accepts?, human accepts?). */
export function agreement(pairs: ReadonlyArray<readonly [boolean, boolean]>, threshold: number): Agreement {
  let aa = 0, ar = 0, ra = 0, rr = 0;
  for (const [j, h] of pairs) {
    if (j && h) aa++;
    else if (j && !h) ar++;
    else if (!j && h) ra++;
    else rr++;
  }
  const n = pairs.length;
  const table = { judge_accept_human_accept: aa, judge_accept_human_reject: ar, judge_reject_human_accept: ra, judge_reject_human_reject: rr };
  if (n === 0) return { n, accuracy: null, kappa: null, table, threshold };
  const po = (aa + rr) / n;
  const pJudgeAccept = (aa + ar) / n;
  const pHumanAccept = (aa + ra) / n;
  const pe = pJudgeAccept * pHumanAccept + (1 - pJudgeAccept) * (1 - pHumanAccept);
  const kappa = pe >= 1 ? null : (po - pe) / (1 - pe);
  return { n, accuracy: po, kappa, table, threshold };
}

export function formatAgreement(a: Agreement): string {
  if (a.n === 0) return 'agreement: no item has both a judge verdict and a human decision';
  const acc = (a.accuracy! * 100).toFixed(1);
  const kappa = a.kappa === null ? 'undefined (one class only)' : a.kappa.toFixed(3);
  const t = a.table;
  return (
    `agreement (judge accepts at judge_score >= ${a.threshold}) on ${a.n} items: accuracy ${acc}%, Cohen's kappa ${kappa}\n` +
    `  judge accept / human accept ${t.judge_accept_human_accept}, judge accept / human reject ${t.judge_accept_human_reject}, ` +
    `judge reject / human accept ${t.judge_reject_human_accept}, judge reject / human reject ${t.judge_reject_human_reject}`
  );
}
