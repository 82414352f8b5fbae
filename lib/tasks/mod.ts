/**
 * The function-vector tasks of Todd et al. (2024) as State Soup uses them: task files from the
 * mirror or the pinned GitHub commit, randomized controls, seeded splits and demonstration
 * sets, and the `Q: ...\nA: ...` prompt template with its scored first target token.
 *
 * @example
 * ```ts
 * import { buildPrompt, loadTask, sampleDemoSets, splitTask } from "./mod.ts";
 * const task = await loadTask("country-capital");
 * const { train, test } = splitTask(task, { seed: 0 });
 * const [demos] = sampleDemoSets(train, { count: 1, k: 5, seed: 0 });
 * const prompt = buildPrompt(demos.map((i) => task.items[i]), task.items[test[0]]);
 * if (!prompt.startsWith("<|endoftext|>Q: ") || !prompt.endsWith("\nA:")) throw new Error(prompt);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./task_sources.ts";
export * from "./list_tasks.ts";
export * from "./load_task.ts";
export * from "./randomize_task.ts";
export * from "./split_task.ts";
export * from "./sample_demo_sets.ts";
export * from "./build_prompt.ts";
export * from "./encode_demos.ts";
export * from "./first_target_token.ts";
