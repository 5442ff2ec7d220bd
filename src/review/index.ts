/** Human review: export samples to review tools, import reviewers' decisions back. */
export { exportReview, loadReviewItems, parseReviewFormat, REVIEW_FORMATS } from './export.ts';
export type { ExportReviewOptions, ExportReviewResult, ReviewFormat } from './export.ts';
export { importReview, readDecisions, resolveItem, REVIEW_COLUMNS } from './import.ts';
export type { ImportReviewOptions, ImportReviewResult, ReviewStatus, Conflict } from './import.ts';
export { itemId, rowToItem, stratifiedSample, allocate, DEFAULT_THRESHOLD } from './items.ts';
export type { ReviewItem, SampleOptions } from './items.ts';
export type { Decision, DecisionsFormat, ReviewDecision } from './decisions.ts';
export { agreement, formatAgreement } from './agreement.ts';
export type { Agreement } from './agreement.ts';
export { reviewPage, DECISIONS_KIND } from './html.ts';
export { toLabelStudioTasks, labelStudioConfig, parseLabelStudioExport } from './labelstudio.ts';
export { toArgillaRecords, argillaSettings, parseArgillaExport } from './argilla.ts';
export { toReviewCsv, parseReviewCsv } from './csv.ts';
