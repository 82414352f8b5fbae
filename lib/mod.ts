/**
 * State Soup: Mamba states as reusable skills. The library under the notebooks: what a
 * researcher calls, in the steps State Soup is made of. Everything else is reachable through the
 * subpath modules (`lib/engine/mod.ts`, `lib/states/mod.ts`, `lib/mixing/mod.ts`, ...).
 *
 * @example
 * ```ts
 * import { mixMean, openEngine } from "./mod.ts";
 * if (typeof mixMean !== "function" || typeof openEngine !== "function") throw new Error();
 * ```
 *
 * @module
 */

// A model: find it, open an engine on it (ONNX on the CPU or a GPU), read prompts into states.
export { resolveModelDir, resolveTokenizerFile } from "./hub/resolve.ts";
export { projectPath } from "./hub/sources.ts";
export { configHash, type MambaConfig, readMambaConfig } from "./model/config.ts";
export { tinyMambaConfig, writeRandomCheckpoint } from "./model/random_checkpoint.ts";
export { loadTokenizer } from "./tokenizer/load_tokenizer.ts";
export { type Device, openEngine } from "./engine/open_engine.ts";
export type { Engine, RunResult } from "./engine/types.ts";
export { generate } from "./engine/generate.ts";

// Tasks: Todd et al.'s files, the protocol's split and demonstrations, prompts.
export { loadTask } from "./tasks/load_task.ts";
export { listTasks } from "./tasks/list_tasks.ts";
export { splitTask } from "./tasks/split_task.ts";
export { sampleDemoSets } from "./tasks/sample_demo_sets.ts";
export { buildPrompt, buildQueryPrompt } from "./tasks/build_prompt.ts";
export { encodeDemos } from "./tasks/encode_demos.ts";
export type { Task, TaskItem } from "./tasks/types.ts";
export { loadNewsDocuments } from "./data/news.ts";

// States: the one state type, state folders, the shared store, skill libraries.
export type { State } from "./states/state.ts";
export { buildStateMeta, loadState, saveState, stateShapeOf } from "./states/state_dir.ts";
export { StateStore } from "./states/store.ts";
export { SkillLibrary } from "./library/skill_library.ts";
export { SkillIndex } from "./library/skill_index.ts";

// Using states: mix, retrieve, evaluate.
export { mixMean } from "./mixing/mix_mean.ts";
export { mixWeighted } from "./mixing/mix_weighted.ts";
export { mixADecay } from "./mixing/mix_a_decay.ts";
export { taskArithmetic } from "./mixing/task_arithmetic.ts";
export { retrieve } from "./retrieval/retrieve.ts";
export { cosineSimilarity } from "./retrieval/cosine_similarity.ts";
export { stateVector } from "./retrieval/state_vector.ts";
export { evaluateFirstToken } from "./eval/first_token_accuracy.ts";

// Files: NumPy arrays, result tables, plots.
export { readNpy } from "./npy/read_npy.ts";
export { writeNpy } from "./npy/write_npy.ts";
export { formatCsv, readCsv, writeCsv } from "./results/csv.ts";
export { Plot, renderPlot } from "./plot/render.ts";
export { svgToPng } from "./plot/svg_to_png.ts";
export { showFigures, showTable } from "./plot/notebook.ts";

// The figures: presets, the registry, each experiment, and the claims read from their tables.
export { PRESETS } from "./experiments/presets.ts";
export { FIGURE_REGISTRY } from "./experiments/figures.ts";
export { runIclVsK } from "./experiments/icl_vs_k.ts";
export { runClustering } from "./experiments/clustering.ts";
export { runRetrievalVsK } from "./experiments/retrieval_vs_k.ts";
export { runMixingVsK } from "./experiments/mixing_vs_k.ts";
export { runAdecay } from "./experiments/adecay.ts";
export { runTaskArithmetic } from "./experiments/task_arithmetic.ts";
export { readClaims, showClaims } from "./experiments/claims.ts";
