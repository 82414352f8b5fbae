"""How far the Fig. 3 documents held out of the organism's training are from its training text:
the cross-entropy (nats/token) of an add-one-half unigram model of each training source, on that
source and on the held-out documents, and the share of held-out tokens that are "unseen" ids.

    python tools/organism/domain_distance.py [--mirror ../shared/data]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mirror", default="../shared/data")
    p.add_argument("--corpora", default="data/cache/organism-corpora")
    p.add_argument("--min-count", type=int, default=10)
    a = p.parse_args()
    defaults = dict(task_power=1.1, seq_len=320, task_batch=1, text_batch=1, max_shots=33,
                    clean_share=0.4, partner_min=0.2, partner_max=0.6, min_count=a.min_count)
    args = argparse.Namespace(**defaults)
    d = train.Data(Path(a.mirror), train.fetch_corpora(Path(a.corpora)), args,
                   np.random.default_rng(0))
    held = np.concatenate([np.array(x) for x in d.held_out_ids])
    unseen = float(np.mean(d.compact[held] == d.unseen_row))
    print(f"held-out: {len(held)} tokens, {100 * unseen:.2f}% of them unseen ids")

    def cross_entropy(train_docs, docs):
        c = np.bincount(np.concatenate(train_docs), minlength=train.VOCAB_SIZE) + 0.5
        return float(-np.mean(np.log((c / c.sum())[np.concatenate(docs)])))

    for name, docs in [*d.sources.items(), ("all text", d.text_docs)]:
        print(f"{name}: unigram on itself {cross_entropy(docs, docs):.3f}, "
              f"on the held-out news {cross_entropy(docs, [held]):.3f}")


if __name__ == "__main__":
    main()
