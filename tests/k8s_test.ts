/**
 * The Kubernetes manifests of a sharded run (tools/k8s/indexed_job.sh), checked as documents
 * (no cluster runs here): they parse as YAML; the Indexed Job's completions, parallelism and
 * `--shard-count` agree; every pod mounts the claim the manifest declares, with SOUP_CACHE on
 * it; and the shards and the merge run `reproduce` with the arguments given, exactly as the
 * Slurm array does (`--shard k8s --shard-count N`, then the same command without it).
 */
import { parseAllDocuments } from "yaml";
import { assert, assertEquals } from "./_assert.ts";
import { parseShard } from "../lib/experiments/shard.ts";

const ROOT = new URL("..", import.meta.url).pathname;

// The manifests are read as untyped JSON: each field the test needs is checked by value.
// deno-lint-ignore no-explicit-any
async function manifests(args: string[]): Promise<Record<string, any>[]> {
  const out = await new Deno.Command("bash", {
    args: ["tools/k8s/indexed_job.sh", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(out.success, new TextDecoder().decode(out.stderr));
  const docs = parseAllDocuments(text);
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    assertEquals(d.errors.map((e) => e.message), [], text);
  }
  return (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJSON());
}

Deno.test("the Kubernetes Indexed Job and its merge run the shards and the merge of one run", async () => {
  const args = ["retrieval", "--model", "organism", "--results", 'out dir/"x"'];
  const [claim, shards] = await manifests(["4", ...args]);
  const [merge] = await manifests(["--merge", "4", ...args]);
  assertEquals([claim.kind, shards.kind, merge.kind], ["PersistentVolumeClaim", "Job", "Job"]);
  assertEquals(claim.spec.accessModes, ["ReadWriteMany"]);
  assertEquals(shards.spec.completionMode, "Indexed");
  assertEquals([shards.spec.completions, shards.spec.parallelism], [4, 4]);
  for (const job of [shards, merge]) {
    const pod = job.spec.template.spec;
    const [c] = pod.containers;
    assertEquals(pod.volumes, [{ name: "soup", persistentVolumeClaim: { claimName: "soup" } }]);
    assertEquals(claim.metadata.name, "soup");
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === "soup").mountPath;
    const cache = c.env.find((e: { name: string }) => e.name === "SOUP_CACHE").value;
    assert(cache.startsWith(`${mount}/`) && c.workingDir.startsWith(`${mount}/`), cache);
    assertEquals(c.command.slice(0, 5), ["npx", "-y", "deno@2.9.6", "task", "reproduce"]);
    assertEquals(c.command.slice(5, 5 + args.length), args, "the arguments pass through whole");
  }
  const shardArgs = shards.spec.template.spec.containers[0].command.slice(5 + args.length);
  assertEquals(shardArgs, ["--shard", "k8s", "--shard-count", "4"]);
  assertEquals(merge.spec.template.spec.containers[0].command.length, 5 + args.length);
  // What the pods' arguments mean to reproduce: pod 3 of the Indexed Job is shard 3 of 4.
  assertEquals(parseShard(shardArgs[1], shardArgs[3], { JOB_COMPLETION_INDEX: "3" }), {
    index: 3,
    count: 4,
  });
});

Deno.test("indexed_job.sh refuses a shard count that is not a whole number from 1", async () => {
  for (const n of ["0", "x", "-2"]) {
    const out = await new Deno.Command("bash", {
      args: ["tools/k8s/indexed_job.sh", n],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 1, n);
    assertEquals(
      new TextDecoder().decode(out.stderr).trim(),
      `indexed_job.sh: N must be a whole number from 1, got "${n}"`,
    );
  }
});
