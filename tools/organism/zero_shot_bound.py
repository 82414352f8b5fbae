"""The zero-shot accuracy a model would reach that knew every pair of the trained tasks and read
no demonstration: for each input of the six main tasks, the first tokens of every trained task's
answers on that input, weighted by how often training shows that (task, input) pair (episodes
drawn in proportion to size ** power, each input of a task equally often); the model's best guess
is the heaviest first token (ties shared). Mean over each main task's inputs.

    python tools/organism/zero_shot_bound.py [--power 1.1] [--tasks a,b,...] [--mirror DIR]

This bounds from above what the data lets the input alone say about the task; the trained model
knows the pairs less well and lands below it.
"""

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mirror", default="../shared/data")
    p.add_argument("--power", type=float, nargs="+", default=[0.5, 1.0, 1.1, 1.5])
    p.add_argument("--tasks", default=",".join(train.TASKS),
                   help="the trained tasks, comma-separated (default: the trainer's)")
    args = p.parse_args()
    mirror = Path(args.mirror)
    tok = train.load_tokenizer(mirror)
    first = {}  # task -> input (lower-cased) -> set of first answer tokens
    sizes = {}
    for t in args.tasks.split(","):
        d = collections.defaultdict(set)
        items = train.load_task(mirror, t)
        for x, y in items:
            head = tok.encode(f"Q: {x}\nA:", add_special_tokens=False).ids
            ids = tok.encode(f"Q: {x}\nA: {y}", add_special_tokens=False).ids
            d[x.lower()].add(ids[len(head)])
        first[t], sizes[t] = d, len(items)
    for power in args.power:
        means = []
        for t in train.MAIN_TASKS:
            accs = []
            for x, want in first[t].items():
                mass = collections.Counter()
                for u, d in first.items():
                    if x in d:
                        w = sizes[u] ** (power - 1)  # P(task) / |task|: one pair's share
                        for f in d[x]:
                            mass[f] += w / len(d[x])
                best = max(mass.values())
                top = [f for f, v in mass.items() if v == best]
                accs.append(sum(1 for f in want if f in top) / len(want) / len(top))
            means.append(sum(accs) / len(accs))
            print(f"power {power}: {t} {means[-1]:.3f}")
        print(f"power {power}: mean of the six {sum(means) / len(means):.3f}")


if __name__ == "__main__":
    main()
