/**
 * Sharded reproduction on a real Slurm cluster, started here: Debian's munge, slurmctld and slurmd
 * as one node (tools/slurm/local_cluster.sh, every file under a temporary folder). The quick
 * preset on a tiny random checkpoint runs as a 3-task job array plus the merge job
 * (tools/slurm/submit.sh); its results equal an unsharded run's byte for byte. Then a second
 * array has one task cancelled mid-run (scancel) and resubmitted: still identical. Every daemon
 * started is stopped by its pid. Needs root and the Slurm packages (deno task test installs them;
 * SOUP_SKIP_SLURM=1 leaves this test out, said in its name).
 */
import "./_cache.ts";
import { assert, assertEquals } from "./_assert.ts";
import { tinyMambaConfig, writeRandomCheckpoint } from "../lib/model/random_checkpoint.ts";
import { checkStoreEntries } from "./_store.ts";
import { FIGURE_REGISTRY } from "../lib/experiments/figures.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const skip = Deno.env.get("SOUP_SKIP_SLURM") === "1";

async function sh(cmd: string, env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: ["-c", cmd],
    env,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} failed (${out.code}): ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout).trim();
}

/** Waits until the cluster runs no job of ours (at most `seconds`). */
async function drain(env: Record<string, string>, seconds = 600): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    if ((await sh("squeue -h -o %i", env)) === "") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`jobs still queued after ${seconds} s: ${await sh("squeue", env)}`);
}

async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const fig of Deno.readDirSync(dir)) {
    for (const f of Deno.readDirSync(`${dir}/${fig.name}`)) {
      if (f.name !== "timing.json") {
        out.set(`${fig.name}/${f.name}`, await Deno.readFile(`${dir}/${fig.name}/${f.name}`));
      }
    }
  }
  return out;
}

async function assertSame(a: string, b: string): Promise<void> {
  const [x, y] = [await files(a), await files(b)];
  assertEquals([...x.keys()].sort(), [...y.keys()].sort());
  for (const [name, bytes] of x) assertEquals(bytes, y.get(name), `${name} differs`);
}

Deno.test({
  name: `Slurm: a job array of shards and its merge write what one run writes${
    skip ? " (left out: SOUP_SKIP_SLURM=1)" : ""
  }`,
  ignore: skip,
  async fn() {
    if (Deno.uid() !== 0) {
      throw new Error("the Slurm test starts daemons as root: run the tests as root");
    }
    const dir = await Deno.makeTempDir({ prefix: "soup-slurm-" });
    const cluster = `${dir}/cluster`;
    await Deno.mkdir(cluster);
    try {
      await sh(`bash tools/slurm/local_cluster.sh start ${cluster}`);
      const model = `${dir}/model`;
      await writeRandomCheckpoint(model, tinyMambaConfig({ vocabSize: 50280, numHiddenLayers: 2 }));
      const env = {
        SLURM_CONF: `${cluster}/slurm.conf`,
        SOUP_DENO: Deno.execPath(),
        SOUP_CPUS: "1",
        SOUP_SBATCH: `--chdir=${dir}`,
      };
      const args = `--quick --model ${model} --offline`;
      // One run on one machine: what the shards and their merge must give.
      await sh(
        `SOUP_CACHE=${dir}/single-cache ${Deno.execPath()} run -A cli/reproduce.ts ${args} ` +
          `--results ${dir}/single`,
      );

      // Three shards as a job array, and the merge after them.
      const submitted = await sh(
        `bash tools/slurm/submit.sh 3 ${args} --results ${dir}/merged`,
        { ...env, SOUP_CACHE: `${dir}/cache` },
      );
      // Each job's time limit comes from the plan.
      const m =
        /job array (\d+) \(0-2\), (\d+) min each \(3x its share of the plan's (\d+) CPU s, plus 10 min\); merge: job (\d+)/
          .exec(submitted);
      assert(m !== null, submitted);
      assertEquals(Number(m[2]), Math.ceil((3 * Math.ceil(Number(m[3]) / 3)) / 60) + 10);
      const limit = await sh(`scontrol show job ${m[4]} | grep -o 'TimeLimit=[^ ]*'`, env);
      assertEquals(limit, `TimeLimit=00:${m[2].padStart(2, "0")}:00`);
      await drain(env);
      await assertSame(`${dir}/merged`, `${dir}/single`);
      // The merge job said that every shard finished and it computed nothing; the shards, two
      // at a time, shared one store, and every entry in it is whole.
      const logs = `${dir}/cache/slurm-logs`;
      const mergeLog = [...Deno.readDirSync(logs)].find((e) => e.name.startsWith("merge-"))!;
      const said = Deno.readTextFileSync(`${logs}/${mergeLog.name}`);
      const reports = said.split("\n").filter((l) => l.includes("merge: "));
      assertEquals(reports.length, FIGURE_REGISTRY.length, said); // one per figure
      for (const line of reports) {
        assert(
          line.includes("3 of 3 shards finished") && line.includes("none computed here"),
          line,
        );
      }
      assert((await checkStoreEntries(`${dir}/cache/states`)) > 10, "the shards stored states");

      // A task cancelled mid-run and resubmitted: the merge still writes the same.
      const cache2 = `${dir}/cache2`;
      const array = await sh(
        `sbatch --parsable --array=0-2 --cpus-per-task=1 --chdir=${dir} --wrap ` +
          `'SOUP_CACHE=${cache2} ${Deno.execPath()} run -A ${ROOT}/cli/reproduce.ts ${args} ` +
          `--shard slurm'`,
        env,
      );
      let cancelled = false;
      for (let i = 0; i < 120 && !cancelled; i++) {
        const running = await sh(`squeue -h -t R -o %i`, env);
        if (running.split("\n").includes(`${array}_1`)) {
          await new Promise((r) => setTimeout(r, 3000)); // let it compute a little
          await sh(`scancel ${array}_1`, env);
          cancelled = true;
        } else await new Promise((r) => setTimeout(r, 500));
      }
      assert(cancelled, "task 1 of the array never ran");
      await drain(env);
      await sh(
        `sbatch --parsable --cpus-per-task=1 --chdir=${dir} --wrap ` +
          `'SOUP_CACHE=${cache2} ${Deno.execPath()} run -A ${ROOT}/cli/reproduce.ts ${args} ` +
          `--shard 1/3'`,
        env,
      );
      await drain(env);
      await sh(
        `SOUP_CACHE=${cache2} ${Deno.execPath()} run -A cli/reproduce.ts ${args} ` +
          `--results ${dir}/merged2`,
      );
      await assertSame(`${dir}/merged2`, `${dir}/single`);
      assert((await checkStoreEntries(`${cache2}/states`)) > 10, "the killed shard's store");
    } finally {
      // local_cluster.sh stop kills the daemons by their pids and waits until they have exited.
      await sh(`bash tools/slurm/local_cluster.sh stop ${cluster}`).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    const left = await sh("pgrep -a 'slurmctld|slurmd|munged' || true");
    assertEquals(left, "", "daemons left running");
  },
});
