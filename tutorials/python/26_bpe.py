# 26_bpe — the whiteboard version of tutorials/26_bpe.cpp
#   BPE（字节对编码）是如何构建词表的？
#   How does BPE build a vocabulary?
# Start from the 256 byte values (any text is a list of bytes). Repeat: count every adjacent pair
# of tokens, take the most frequent (ties: the smallest (left, right) pair), give it the next id
# 256, 257, ... and replace its occurrences left to right, never overlapping ("aaa" -> [aa][a]);
# stop at the vocabulary size asked for, or when no pair occurs twice. Encoding new text applies
# the merges in the order they were learned; decoding concatenates each token's bytes.
# The C++ program saved its training bytes and the merges it learned: plain Python must learn the
# very same merges, in the same order, and encode the held-out bytes into the same ids.
import numpy as np

from twin_check import Saved, report


def merge(ids, pair, new_id):
    """ids with every occurrence of `pair` replaced by new_id, left to right, no overlaps."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def pair_counts(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):  # overlapping: "aaa" holds (a, a) twice
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def train_bpe(data, vocab_size):
    ids, merges = list(data), []
    while 256 + len(merges) < vocab_size:
        counts = pair_counts(ids)
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent, then smallest
        if counts[best] < 2:  # a pair seen once is no pattern
            break
        ids = merge(ids, best, 256 + len(merges))
        merges.append(best)
    return merges


def encode(data, merges):
    rank = {pair: r for r, pair in enumerate(merges)}
    ids = list(data)
    while len(ids) >= 2:  # the adjacent pair learned first is merged everywhere, then the next
        r = min((rank.get(pair, len(merges)) for pair in zip(ids, ids[1:])))
        if r == len(merges):
            break
        ids = merge(ids, merges[r], 256 + r)
    return ids


def decode(ids, merges):
    token_bytes = [bytes([b]) for b in range(256)]
    for left, right in merges:
        token_bytes.append(token_bytes[left] + token_bytes[right])
    return b"".join(token_bytes[i] for i in ids)


if __name__ == "__main__":
    saved = Saved("26_bpe")
    train_bytes = saved["train_bytes"].tolist()
    theirs = saved["merges"].reshape(-1, 2)
    merges = train_bpe(train_bytes, int(saved["vocab_size"][0]))
    print(f"  {len(train_bytes)} training bytes: {len(merges)} merges learned here, "
          f"{len(theirs)} by the C++ program")
    held_out = saved["held_out_bytes"].tolist()
    mine_ids = encode(held_out, merges)
    their_ids = saved["held_out_ids"]
    round_trip = decode(their_ids.tolist(), [tuple(m) for m in theirs.tolist()])
    report("26_bpe", [
        ("the merges, in order (plain Python training)", np.array(merges, np.int64).reshape(-1, 2), theirs, 0),
        ("the held-out bytes encoded by the merges", np.array(mine_ids, np.int64), their_ids, 0),
        ("decode(C++ ids) = the held-out bytes", np.frombuffer(round_trip, np.uint8),
         np.array(held_out, np.uint8), 0),
    ])
