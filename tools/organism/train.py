"""Trains the State Soup model organism: a small Mamba-1 that learns Todd et al.'s tasks in context.

    python tools/organism/train.py --mirror ../shared/data --out data/models/organism

Episodes are k-shot prompts in exactly the template the experiments read
(`<|endoftext|>Q: x\\nA: y\\n\\n...`), one task per episode, up to 33 demonstrations, with the loss
on every answer's tokens and the newline after it (so every episode trains k = 0 .. 32 at once),
plus language modelling on the mirror's news text with a held-out set of documents. The model is
JAX, trained on the CPU; the checkpoint is written in Hugging Face's Mamba layout (config.json,
model.safetensors) with the GPT-NeoX-20B ids and vocab_size 50280: the compact training
vocabulary is expanded on export, every id never seen in training getting one shared "unseen"
row that training only ever pushes down. Seeded and resumable (a killed run continues from its
last checkpoint under --work). This file is a tool beside the TypeScript library, never imported by
it, by the tests or by CI, which use the committed checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan import selective_scan  # noqa: E402

# The tasks the organism is trained on. The paper's six main tasks and its two letter tasks, plus
# tasks whose inputs overlap them, so that the context is needed to tell which task is asked:
# synonym (antonym's and english-french's words), country-currency (country-capital's countries),
# lowercase_first_letter and capitalize_last_letter (the capitalize family's words), next_item
# (number words, for the counting anecdote). Never a randomized task.
TASKS = [
    "antonym",
    "capitalize",
    "country-capital",
    "english-french",
    "present-past",
    "singular-plural",
    "capitalize_first_letter",
    "capitalize_second_letter",
    "synonym",
    "country-currency",
    "lowercase_first_letter",
    "capitalize_last_letter",
    "next_item",
]
# The arguments a resumed run must share with the checkpoint it continues.
TRAINING_KEYS = ["seed", "steps", "d_model", "layers", "state_size", "conv_kernel", "seq_len",
                 "task_batch", "news_batch", "lr", "warmup", "max_shots", "task_sampling"]
VOCAB_SIZE = 50280  # every Mamba checkpoint's vocab_size (the tokenizer has 50277 ids)
EOT = 0  # <|endoftext|>
HELD_OUT_DOCUMENTS = 50  # the first documents of the mirror's news, in loadNewsDocuments order


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mirror", default=os.environ.get("SOUP_MIRROR", "../shared/data"))
    p.add_argument("--out", default="data/models/organism")
    p.add_argument("--work", default="data/cache/organism-train", help="checkpoints for resuming")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--max-minutes", type=float, default=57.0,
                   help="stop (and export what was reached) after this much training time")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--state-size", type=int, default=16)
    p.add_argument("--conv-kernel", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=320)
    p.add_argument("--task-batch", type=int, default=24)
    p.add_argument("--news-batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--max-shots", type=int, default=33)
    p.add_argument("--task-sampling", choices=["sqrt", "size", "uniform"], default="sqrt",
                   help="an episode's task is drawn in proportion to the square root of its number "
                        "of items (default), to the number (every pair equally often), or uniformly")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--bench", type=int, default=0, help="time this many steps and stop")
    p.add_argument("--export-only", action="store_true",
                   help="export the last checkpoint under --work to --out without training")
    return p.parse_args()


# ---------------------------------------------------------------------------------------------
# Data


def load_tokenizer(mirror: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(mirror / "tokenizer/gpt-neox-20b/tokenizer.json"))


def load_task(mirror: Path, name: str) -> list[tuple[str, str]]:
    for kind in ("abstractive", "extractive"):
        f = mirror / "function_vectors" / kind / f"{name}.json"
        if f.exists():
            return [(str(d["input"]), str(d["output"])) for d in json.loads(f.read_text())]
    sys.exit(f"train.py: task {name} is not in {mirror}/function_vectors")


def encode_demo(tok, x: str, y: str) -> tuple[list[int], list[int], int]:
    """Ids of `Q: x\\nA: y\\n\\n` as they occur inside a prompt (followed by the next `Q`), the
    positions of the answer's tokens, and the position of the newline after it."""
    text = f"Q: {x}\nA: {y}\n\nQ"
    enc = tok.encode(text, add_special_tokens=False)
    ids, offsets = enc.ids, enc.offsets
    if ids[-1] != 50 or ids[-3:-1] != [187, 187]:
        raise ValueError(f"unexpected tokens at the end of {text!r}: {ids[-4:]}")
    a0 = len(f"Q: {x}\nA:")
    a1 = len(f"Q: {x}\nA: {y}")
    answer = [i for i, (s, _) in enumerate(offsets[:-1]) if a0 <= s < a1]
    nl = [i for i, (s, _) in enumerate(offsets[:-1]) if s == a1]
    if not answer or len(nl) != 1:
        raise ValueError(f"cannot find the answer of {text!r}")
    return ids[:-1], answer, nl[0]


def load_news(mirror: Path) -> list[tuple[str, str]]:
    """(id, text) in lib/data/news.ts loadNewsDocuments order: every .jsonl under news/, names
    sorted per folder, folders walked in sorted order, realnews first."""
    files: list[Path] = []

    def walk(d: Path):
        for e in sorted(d.iterdir(), key=lambda e: e.name):
            if e.is_dir():
                walk(e)
            elif e.name.endswith(".jsonl"):
                files.append(e)

    walk(mirror / "news")
    files.sort(key=lambda f: "/realnews/" not in str(f))
    docs = []
    for f in files:
        for i, line in enumerate(f.read_text().split("\n")):
            if line.strip() == "":
                continue
            rec = json.loads(line)
            text = rec["text"] if isinstance(rec.get("text"), str) else rec["article"]
            docs.append((f"{f.name}:{i + 1}", text))
    return docs


class Data:
    def __init__(self, mirror: Path, args, rng: np.random.Generator):
        tok = load_tokenizer(mirror)
        self.tasks, items_of = [], {}
        for name in TASKS:
            items_of[name] = load_task(mirror, name)
            self.tasks.append((name, [encode_demo(tok, x, y) for x, y in items_of[name]]))
        # The composition check: demos encoded one by one equal the whole prompt's encoding.
        check_rng = np.random.default_rng(1234)
        for name, _ in self.tasks:
            items = items_of[name]
            pick = [items[i] for i in check_rng.choice(len(items), size=min(8, len(items)),
                                                       replace=False)]
            text = "<|endoftext|>" + "".join(f"Q: {x}\nA: {y}\n\n" for x, y in pick) + "Q"
            whole = tok.encode(text, add_special_tokens=False).ids[:-1]
            parts = [EOT] + [t for x, y in pick for t in encode_demo(tok, x, y)[0]]
            if whole != parts:
                raise ValueError(f"{name}: demonstrations do not compose into the prompt")
        news = load_news(mirror)
        self.held_out = [d for d, _ in news[:HELD_OUT_DOCUMENTS]]
        self.news = [np.array(tok.encode(t, add_special_tokens=False).ids, dtype=np.int32)
                     for _, t in news[HELD_OUT_DOCUMENTS:]]
        seen = {EOT}
        for _, demos in self.tasks:
            for ids, _, _ in demos:
                seen.update(ids)
        for doc in self.news:
            seen.update(doc.tolist())
        self.seen = np.array(sorted(seen), dtype=np.int32)
        self.unseen_row = len(self.seen)  # one shared row for every id never seen in training
        self.compact = np.full(VOCAB_SIZE, self.unseen_row, dtype=np.int32)
        self.compact[self.seen] = np.arange(len(self.seen), dtype=np.int32)
        self.vocab = len(self.seen) + 1
        self.args = args
        self.rng = rng
        sizes = np.array([len(d) for _, d in self.tasks], dtype=np.float64)
        if args.task_sampling == "uniform":
            sizes[:] = 1.0
        elif args.task_sampling == "sqrt":
            sizes = np.sqrt(sizes)
        self.task_p = sizes / sizes.sum()
        self.news_tokens = int(sum(len(d) for d in self.news))

    def batch(self):
        a, L = self.args, self.args.seq_len
        B = a.task_batch
        tokens = np.zeros((B + a.news_batch, L), dtype=np.int32)
        # Task episodes: targets at gathered positions (answer tokens and the newline after).
        P = 3 * a.max_shots
        pos = np.zeros((B, P), dtype=np.int32)
        tgt = np.zeros((B, P), dtype=np.int32)
        wgt = np.zeros((B, P), dtype=np.float32)
        first = np.zeros((B, P), dtype=np.float32)  # 1 at each answer's first token
        shot = np.zeros((B, P), dtype=np.int32)  # k: demonstrations before this answer
        for b in range(B):
            _, demos = self.tasks[self.rng.choice(len(self.tasks), p=self.task_p)]
            order = self.rng.permutation(len(demos))[: a.max_shots]
            seq = [EOT]
            n = 0
            for k, j in enumerate(order):
                ids, answer, nl = demos[j]
                if len(seq) + len(ids) > L:
                    break
                base = len(seq)
                for r, i in enumerate(answer + [nl]):
                    if n < P:
                        # The token at position base+i is predicted from position base+i-1.
                        pos[b, n] = base + i - 1
                        tgt[b, n] = ids[i]
                        wgt[b, n] = 1.0
                        first[b, n] = 1.0 if r == 0 else 0.0
                        shot[b, n] = k
                        n += 1
                seq.extend(ids)
            tokens[b, : len(seq)] = seq
        # News windows: the document's start half of the time (as Fig. 3 reads x1 from zeros).
        news_tgt = np.zeros((a.news_batch, L), dtype=np.int32)
        news_w = np.zeros((a.news_batch, L), dtype=np.float32)
        for b in range(a.news_batch):
            doc = self.news[self.rng.integers(len(self.news))]
            start = 0
            if self.rng.random() >= 0.5 and len(doc) > L + 1:
                start = int(self.rng.integers(0, len(doc) - L - 1))
            w = doc[start: start + L + 1]
            m = len(w) - 1
            tokens[B + b, :m] = w[:m]
            news_tgt[b, :m] = w[1:]
            news_w[b, :m] = 1.0
        c = self.compact
        return dict(tokens=c[tokens], pos=pos, tgt=c[tgt], wgt=wgt, first=first, shot=shot,
                    news_tgt=c[news_tgt], news_w=news_w)


# ---------------------------------------------------------------------------------------------
# Model: Mamba-1 exactly as transformers' MambaForCausalLM computes it (slow path).


def init_params(key, vocab: int, d: int, layers: int, n: int, k: int):
    import jax
    import jax.numpy as jnp

    di, r = 2 * d, -(-d // 16)
    keys = iter(jax.random.split(key, 8 * layers + 2))
    p = {"emb": 0.02 * jax.random.normal(next(keys), (vocab, d)), "norm_f": jnp.ones(d),
         "layers": []}
    for _ in range(layers):
        dt = jnp.exp(jax.random.uniform(next(keys), (di,)) * (np.log(0.1) - np.log(1e-3))
                     + np.log(1e-3))
        dt = jnp.maximum(dt, 1e-4)
        lin = lambda kk, o, i: jax.random.uniform(kk, (o, i), minval=-1, maxval=1) / np.sqrt(i)
        p["layers"].append({
            "norm": jnp.ones(d),
            "in_proj": lin(next(keys), 2 * di, d),
            "conv_w": jax.random.uniform(next(keys), (di, k), minval=-1, maxval=1) / np.sqrt(k),
            "conv_b": jnp.zeros(di),
            "x_proj": lin(next(keys), r + 2 * n, di),
            "dt_proj": jax.random.uniform(next(keys), (di, r), minval=-1, maxval=1) * r ** -0.5,
            "dt_bias": dt + jnp.log(-jnp.expm1(-dt)),
            "A_log": jnp.log(jnp.tile(jnp.arange(1, n + 1, dtype=jnp.float32), (di, 1))),
            "D": jnp.ones(di),
            "out_proj": lin(next(keys), d, di) / np.sqrt(layers),
        })
    return p


def rms_norm(x, w, eps=1e-5):
    import jax.numpy as jnp

    return w * (x * jnp.reciprocal(jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps)))


def mixer(lp, x):
    import jax
    import jax.numpy as jnp

    B, L, _ = x.shape
    di, K = lp["conv_w"].shape
    r = lp["dt_proj"].shape[1]
    n = lp["A_log"].shape[1]
    xz = x @ lp["in_proj"].T
    xs, z = xz[..., :di], xz[..., di:]
    pad = jnp.pad(xs, ((0, 0), (K - 1, 0), (0, 0)))
    conv = lp["conv_b"] + sum(pad[:, j: j + L, :] * lp["conv_w"][:, j] for j in range(K))
    u = jax.nn.silu(conv)
    dbc = u @ lp["x_proj"].T
    dt = jax.nn.softplus(dbc[..., :r] @ lp["dt_proj"].T + lp["dt_bias"])
    Bm, Cm = dbc[..., r: r + n], dbc[..., r + n:]
    A = -jnp.exp(lp["A_log"])
    ys = selective_scan(dt, u, Bm, Cm, A)
    y = (ys + u * lp["D"]) * jax.nn.silu(z)
    return y @ lp["out_proj"].T


def body(p, tokens):
    import jax

    h = p["emb"][tokens]
    for lp in p["layers"]:
        h = h + mixer(lp, rms_norm(h, lp["norm"]))
    return rms_norm(h, p["norm_f"])


def loss_fn(p, batch, task_batch: int):
    import jax
    import jax.numpy as jnp

    h = body(p, batch["tokens"])
    ht, hn = h[:task_batch], h[task_batch:]
    g = jnp.take_along_axis(ht, batch["pos"][..., None], axis=1)  # (B, P, d)
    logits = g @ p["emb"].T
    lse = jax.nn.logsumexp(logits, axis=-1)
    tl = jnp.take_along_axis(logits, batch["tgt"][..., None], axis=-1)[..., 0]
    nll = lse - tl
    w = batch["wgt"]
    task_loss = jnp.sum(nll * w) / jnp.maximum(jnp.sum(w), 1)
    correct = (jnp.argmax(logits, axis=-1) == batch["tgt"]).astype(jnp.float32)
    nlogits = hn @ p["emb"].T
    nnll = jax.nn.logsumexp(nlogits, axis=-1) - jnp.take_along_axis(
        nlogits, batch["news_tgt"][..., None], axis=-1)[..., 0]
    news_loss = jnp.sum(nnll * batch["news_w"]) / jnp.maximum(jnp.sum(batch["news_w"]), 1)
    return task_loss + news_loss, (task_loss, news_loss, correct)


# ---------------------------------------------------------------------------------------------
# Export


def f16(a) -> tuple[str, np.ndarray]:
    return "F16", np.asarray(a, dtype=np.float16)


def f32(a) -> tuple[str, np.ndarray]:
    return "F32", np.asarray(a, dtype=np.float32)


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]], meta: dict):
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name, (dtype, arr) in tensors.items():
        b = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def export(p, data: Data, args, out: Path, info: dict):
    out.mkdir(parents=True, exist_ok=True)
    emb = np.asarray(p["emb"])
    full = emb[data.compact]  # (50280, d): seen ids their row, every other id the unseen row
    t = {"backbone.embeddings.weight": f16(full)}
    for i, lp in enumerate(p["layers"]):
        pre = f"backbone.layers.{i}"
        t[f"{pre}.norm.weight"] = f32(lp["norm"])
        t[f"{pre}.mixer.A_log"] = f32(lp["A_log"])
        t[f"{pre}.mixer.D"] = f32(lp["D"])
        t[f"{pre}.mixer.conv1d.weight"] = f16(np.asarray(lp["conv_w"])[:, None, :])
        t[f"{pre}.mixer.conv1d.bias"] = f32(lp["conv_b"])
        t[f"{pre}.mixer.in_proj.weight"] = f16(lp["in_proj"])
        t[f"{pre}.mixer.x_proj.weight"] = f16(lp["x_proj"])
        t[f"{pre}.mixer.dt_proj.weight"] = f16(lp["dt_proj"])
        t[f"{pre}.mixer.dt_proj.bias"] = f32(lp["dt_bias"])
        t[f"{pre}.mixer.out_proj.weight"] = f16(lp["out_proj"])
    t["backbone.norm_f.weight"] = f32(p["norm_f"])
    write_safetensors(out / "model.safetensors", t, {"format": "pt"})
    d = args.d_model
    config = {
        "architectures": ["MambaForCausalLM"],
        "model_type": "mamba",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": d,
        "intermediate_size": 2 * d,
        "state_size": args.state_size,
        "num_hidden_layers": args.layers,
        "conv_kernel": args.conv_kernel,
        "expand": 2,
        "time_step_rank": -(-d // 16),
        "layer_norm_epsilon": 1e-5,
        "use_bias": False,
        "use_conv_bias": True,
        "hidden_act": "silu",
        "residual_in_fp32": True,
        "tie_word_embeddings": True,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "pad_token_id": 0,
        "torch_dtype": "float16",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
    import jax
    import jax.numpy as jnp
    import optax

    mirror, out, work = Path(args.mirror), Path(args.out), Path(args.work)
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    data = Data(mirror, args, rng)
    print(f"data: {len(TASKS)} tasks, {sum(len(d) for _, d in data.tasks)} items, "
          f"{len(data.news)} news documents ({data.news_tokens} tokens) for training, "
          f"{len(data.held_out)} held out; compact vocabulary {data.vocab} "
          f"({time.time() - t0:.1f} s)", flush=True)

    params = init_params(jax.random.PRNGKey(args.seed), data.vocab, args.d_model, args.layers,
                         args.state_size, args.conv_kernel)
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, args.warmup, args.steps,
                                                  args.lr * 0.05)
    no_decay = lambda p: jax.tree_util.tree_map_with_path(
        lambda path, x: x.ndim == 2 and "A_log" not in str(path) and "emb" not in str(path), p)
    opt = optax.chain(optax.clip_by_global_norm(1.0),
                      optax.adamw(schedule, b1=0.9, b2=0.95, weight_decay=0.1, mask=no_decay))
    opt_state = opt.init(params)

    @jax.jit
    def train_step(params, opt_state, batch):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch,
                                                                       args.task_batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, aux

    step, elapsed, log_rows = 0, 0.0, []
    ckpt = work / "state.pkl"
    if ckpt.exists() and not args.bench:
        with open(ckpt, "rb") as f:
            saved = pickle.load(f)
        differ = [k for k in TRAINING_KEYS if saved["args"].get(k) != getattr(args, k)]
        if differ:
            sys.exit(f"train.py: {ckpt} was written with other {', '.join(differ)}; delete it to "
                     "start over")
        params, opt_state = saved["params"], saved["opt_state"]
        step, elapsed, log_rows = saved["step"], saved["elapsed"], saved["log"]
        data.rng.bit_generator.state = saved["rng"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min trained)", flush=True)

    def save():
        work.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_name("state.pkl.tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"args": {k: v for k, v in vars(args).items() if k != "max_minutes"},
                         "params": jax.device_get(params), "opt_state": jax.device_get(opt_state),
                         "step": step, "elapsed": elapsed, "log": log_rows,
                                      "rng": data.rng.bit_generator.state}, f)
        os.replace(tmp, ckpt)

    if args.export_only:
        if step == 0:
            sys.exit(f"train.py: nothing to export: {ckpt} does not exist")
        args.steps = step
    acc_k = np.zeros((args.max_shots, 2))
    budget = args.max_minutes * 60
    stopped_early = False
    while step < args.steps:
        s0 = time.time()
        batch = data.batch()
        params, opt_state, loss, (tl, nl, correct) = train_step(params, opt_state, batch)
        loss = float(loss)
        dt = time.time() - s0
        if step > 0 or elapsed > 0:
            elapsed += dt  # the first step's compile time is not training time
        step += 1
        c = np.asarray(correct) * batch["first"]
        np.add.at(acc_k[:, 0], batch["shot"], c)
        np.add.at(acc_k[:, 1], batch["shot"], batch["first"])
        if step % args.log_every == 0 or step == args.steps:
            a = acc_k[:, 0] / np.maximum(acc_k[:, 1], 1)
            row = {"step": step, "minutes": round(elapsed / 60, 3), "lr": float(schedule(step)),
                   "task_loss": round(float(tl), 4), "news_loss": round(float(nl), 4),
                   "acc_k0": round(a[0], 4), "acc_k1_3": round(a[1:4].mean(), 4),
                   "acc_k4_15": round(a[4:16].mean(), 4), "acc_k16_32": round(a[16:].mean(), 4)}
            log_rows.append(row)
            acc_k[:] = 0
            print(" ".join(f"{k}={v}" for k, v in row.items()) + f" ({dt:.2f} s/step)", flush=True)
        if args.bench and step >= args.bench:
            print(f"bench: {(elapsed) / max(step - 1, 1):.2f} s/step after compile")
            return
        if step % args.save_every == 0:
            save()
        if elapsed > budget:
            print(f"time budget of {args.max_minutes} min reached at step {step}", flush=True)
            stopped_early = True
            break
    if not args.export_only:
        save()

    info = {
        "trainer": "tools/organism/train.py",
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "seed": args.seed,
        "steps": step,
        "steps_planned": args.steps,
        "stopped_by_time_budget": stopped_early,
        "training_minutes": round(elapsed / 60, 2),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"python": platform.python_version(), "jax": jax.__version__,
                     "optax": optax.__version__, "numpy": np.__version__},
        "parameters_trained": n_params,
        "compact_vocabulary": data.vocab,
        "tasks": TASKS,
        "task_items": {n: len(d) for n, d in data.tasks},
        "news_training_documents": len(data.news),
        "news_training_tokens": data.news_tokens,
        "news_held_out_documents": data.held_out,
        "hyperparameters": {k: v for k, v in vars(args).items()
                            if k not in ("mirror", "out", "work", "bench", "log_every",
                                         "save_every")},
        "seen_ids_sha256": hashlib.sha256(data.seen.tobytes()).hexdigest(),
    }
    export(params, data, args, out, info)
    with open(out / "loss.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(log_rows[0].keys()))
        w.writeheader()
        w.writerows(log_rows)
    np.save(out / "seen_ids.npy", data.seen)
    print(f"wrote {out} ({step} steps, {elapsed / 60:.1f} min)", flush=True)


if __name__ == "__main__":
    main()
