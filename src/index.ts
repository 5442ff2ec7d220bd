/** ko-align's public library entry: each area re-exports its main API here. */
export {
  readRows,
  readAllRows,
  writeRows,
  appendJsonl,
  readJsonlTolerant,
  formatFromPath,
  FORMATS,
} from './data/io.ts';
export type { Row, Format, ReadOptions, ReadAllOptions } from './data/io.ts';
export { toExample, detectFormat, guessFormat, explainFormat, describeFormatChoice, passThroughColumns, isKtoLabelValue, applyColumns, mappedFormat, promptText, answerText, promptMessages, readExamples, parseLabel, DATA_FORMATS } from './data/formats.ts';
export type { Message, Role, Example, DataFormat, ColumnMap, ExampleOptions, FormatChoice } from './data/formats.ts';
export { convertFile } from './data/convert.ts';
export type { ConvertOptions, ConvertResult } from './data/convert.ts';
export { readJsonlTolerantDetailed, toJsonText } from './data/io.ts';

// Safety: toxicity scorers, the embedded classifier, the sweep round gate.
export { loadDefaultClassifier, loadClassifier, defaultModelDir } from './safety/classifier.ts';
export type { ToxicityClassifier } from './safety/classifier.ts';
export { scoreToxicity, scoreToxicityFile, scoreTexts, openToxicityScorer, summarizeToxicity, SCORERS } from './safety/scorers.ts';
export type { ScorerName, ToxicityOptions, ToxicitySummary, ToxicityScorer, TextScore } from './safety/scorers.ts';
export { gateRound } from './safety/gate.ts';
export type { GateInput, GateVerdict } from './safety/gate.ts';
export { trainToxicityModel, readHateSpeechTsv } from './safety/train.ts';
export { trainOnSources, loadSources, evaluate as evaluateToxicityClassifier, splitOf } from './safety/train-sources.ts';
export { fitPlatt, expectedCalibrationError } from './safety/calibration.ts';
export type { TrainCommandOptions, TrainResult } from './safety/train.ts';
export { binaryMetrics, auroc } from './safety/metrics.ts';
export { runCuration, loadCurateConfig, canonicalRow, curateOutputs } from './curate/pipeline.ts';
export type { Manifest, StageReport, RunOptions } from './curate/pipeline.ts';
export type { Stage, StageContext, StageFactory, Decision } from './curate/stage.ts';
export { stageRegistry, registerStage, getStageFactory } from './curate/registry.ts';
export { createPerplexityStage } from './curate/stages/perplexity.ts';
export * from './text/index.ts';
export { exportReview, importReview, readDecisions, stratifiedSample, itemId, agreement as reviewAgreement, reviewPage, REVIEW_FORMATS } from './review/index.ts';
export type { ExportReviewOptions, ExportReviewResult, ImportReviewOptions, ImportReviewResult, ReviewFormat, ReviewItem, Decision as ReviewDecisionRecord, Agreement as ReviewAgreement } from './review/index.ts';

// Tokenizer, chat templates, training tokenization, tokenizer efficiency stats.
export { loadTokenizer } from './model/tokenizer.ts';
export type { Tokenizer } from './model/tokenizer.ts';
export { ChatTemplate, renderChatTemplate, chatTemplateFromConfig } from './model/chat-template.ts';
export type { RenderOptions as ChatTemplateRenderOptions } from './model/chat-template.ts';
export { buildTokenizer, trainBpe, CHATML_TEMPLATE } from './model/tokenizer-builder.ts';
export type { BuildTokenizerOptions, BuildTokenizerResult } from './model/tokenizer-builder.ts';
export { tokenizeChatForTraining, tokenizePromptCompletion, padExample } from './train/tokenize.ts';
export type { ChatTrainingExample, PromptCompletionIds, PromptCompletionOptions } from './train/tokenize.ts';
export { tokenizerStats, formatTokenizerStats, detectLanguage } from './eval/tokenizer-stats.ts';
export type { TokenizerStatsOptions, TokenizerStatsResult, TokenizerStatsRow, TextLanguage } from './eval/tokenizer-stats.ts';

// Engine and models: backend choice, Llama-family model, safetensors, checkpoints, log-probs, generation.
export { initBackend, currentBackend, BACKEND_NAMES } from './engine/backend.ts';
export type { BackendName, InitBackendOptions } from './engine/backend.ts';
export { parseConfig, loadConfig as loadModelConfig, paramShapes, countParams, ARCHITECTURES } from './model/config.ts';
export type { ModelConfig, Architecture } from './model/config.ts';
export { readSafetensors, readSafetensorsDir, readSafetensorsHeader, writeSafetensors, weightFiles } from './model/safetensors.ts';
export type { HostTensor } from './model/safetensors.ts';
export { LlamaModel, KVCache, linear, matmul, embedLookup, rmsNorm } from './model/llama.ts';
export type { ForwardOptions } from './model/llama.ts';
export { loadModel, saveModel, writeModelDir, TOKENIZER_FILES } from './model/checkpoint.ts';
export type { LoadModelOptions, SaveModelOptions } from './model/checkpoint.ts';
export { tokenLogprobs, targetLogprobs, pickLogprobs, sequenceLogprobs, logprobsFile } from './model/logprobs.ts';
export type { ScoredSequence, ScoreInput, LogprobsFileOptions } from './model/logprobs.ts';
export { generate, generateTexts, generateFile, encodePrompt, pickToken } from './model/generate.ts';
export type { GenerateOptions, Generation, TextGeneration, PromptInput, GenerateFileOptions } from './model/generate.ts';
export { initModelDir, randomWeights, randomModelTensors, tinyConfigJson, SeededRandom } from './model/init.ts';
export type { TinyModelSpec, InitModelOptions, InitArch } from './model/init.ts';

// Judges: rubrics, the OpenAI-compatible judge client, durable cache, jobs, KTO labels, batch API.
export { judgeRows, judgeFile, JudgeSession, sampleOf } from './judge/job.ts';
export type { JudgeOptions, JudgeSummary, Sample } from './judge/job.ts';
export { loadRubric, renderMessages, rubricTag, defaultRubricPath, safetyRubricPath, judgesDir } from './judge/rubric.ts';
export type { Rubric, RubricAspect, ChatMessage } from './judge/rubric.ts';
export { JudgeClient, endpointConfigured } from './judge/client.ts';
export type { JudgeClientOptions, JudgeCallResult, ClientStats, ModelPrice } from './judge/client.ts';
export { parseJudgeAnswer } from './judge/parse.ts';
export type { ParsedJudgement } from './judge/parse.ts';
export { detectInjection } from './judge/injection.ts';
export { JudgeCache, cacheKey } from './judge/cache.ts';
export type { CacheEntry } from './judge/cache.ts';
export { heuristicJudge, HEURISTIC_MODEL } from './judge/heuristic.ts';
export { labelRows, labelFile } from './judge/label.ts';
export type { LabelOptions, LabelSummary } from './judge/label.ts';
export { submitBatch, batchStatus, collectBatch, buildBatchRequests } from './judge/batch.ts';
export type { BatchState, BatchStatus, BatchCollectSummary, BatchSubmitResult } from './judge/batch.ts';
export { judgeStage } from './curate/stages/judge.ts';

// Training: the shared loop (used by SFT and KTO), AdamW, schedules, data plumbing, SFT, LoRA.
export { train, listCheckpoints, totalSteps, TrainingDivergedError } from './train/trainer.ts';
export type { TrainLoopConfig, TrainTask, StepContext, MicroBatchLoss, LogStat, MetricsLine, StepInfo, TrainOptions, TrainResult as TrainRunResult } from './train/trainer.ts';
export { AdamW, clipGradNorm, decaysByDefault } from './train/optim.ts';
export type { AdamWConfig, OptimParam } from './train/optim.ts';
export { lrMultiplier, warmupSteps, SCHEDULER_TYPES } from './train/schedule.ts';
export type { SchedulerType, ScheduleConfig } from './train/schedule.ts';
export { Rng } from './train/rng.ts';
export type { RngState } from './train/rng.ts';
export { collate, packExamples, toUnit, EpochOrder, IGNORE_INDEX } from './train/data.ts';
export type { Batch, Unit, TokenizedExample, DataPosition } from './train/data.ts';
export { neftuneNoise, neftuneHook } from './train/neftune.ts';
export { selectParams, compilePattern } from './train/params.ts';
export { LoraAdapters, mergeAdapterDir } from './train/lora.ts';
export { fromTrlConfig } from './train/trl-compat.ts';
export { readLlamaFactoryDataset, readDatasetInfo, convertLlamaFactoryRow, readDatasetRows } from './data/llamafactory.ts';
export { pythonTemplate } from './model/jinja-python.ts';
export { trainSft, loadSftConfig, validateSftConfig, prepareSftData, tokenizeRows, buildSftTask, sftLossSum, evalLoss, shiftedTargets } from './train/sft.ts';
export type { SftData, SftRunOptions, SftTaskParts, SftForwardHooks } from './train/sft.ts';
export { SFT_SCHEMA, TRAIN_LOOP_SCHEMA, LORA_SCHEMA, LORA_TARGETS } from './train/sft-config.ts';
export type { SftConfig, CommonTrainConfig, LoraConfig, ParamGroupConfig, DatasetConfig } from './train/sft-config.ts';
