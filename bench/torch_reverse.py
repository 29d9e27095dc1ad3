#!/usr/bin/python3
"""torch_reverse.py — `make run` (tutorials/12_train_transformer) written in PyTorch, for the
bench's reverse-to-99 row: seconds of training until the encoder-decoder reverses 99% of 512
held-out 16-token sequences exactly.

    /usr/bin/python3 bench/torch_reverse.py [--threads N] [--attention-impl IMPL] [--seed S]
                                            [--quick]

The same run as the tutorial's defaults (nn/data.hpp, tutorials/12_train_transformer.cpp):
  task      reverse 16 symbols drawn from 10; tokens PAD=0, BOS=1, EOS=2, symbols 3..12
  data      512 distinct held-out sources, never trained on; each step 64 fresh training
            sequences; teacher forcing: the decoder reads BOS y and predicts y EOS
  model     bench/torch_models.py Seq2Seq: vocabulary 13, learned positions for 17 positions,
            d_model 128, 4 heads, 2+2 pre-LN layers, d_ff 512, GELU, no dropout, untied
            bias-free head
  training  Adam lr 3e-4, cross-entropy over every target position ignoring PAD, at most 400
            steps; stop once held-out exact match (greedy decoding) reaches 99%, checked every
            25 steps
  timing    only training, as the tutorial times it: each step from drawing its batch to the
            optimizer update; evaluation is not counted
Every sequence has the same length, so no position is padding and no padding masks are passed
(the tutorial passes all-false masks, which change nothing).

The last line has the tutorial's format:
    held-out exact match: 99.8% (511/512) after 100 steps, 11.0 s of training
"""
import argparse
import sys
import time

PAD, BOS, EOS, FIRST_SYMBOL = 0, 1, 2, 3
SETTINGS = dict(symbols=10, length=16, held_out=512, d_model=128, heads=4, layers=2, d_ff=512,
                batch=64, steps=400, eval_every=25, lr=3e-4, target=0.99)
# The tutorial's --quick (a few seconds, for smoke tests; it is not expected to reach the target).
QUICK_SETTINGS = dict(SETTINGS, length=6, held_out=64, d_model=32, heads=2, layers=1, d_ff=64,
                      batch=32, steps=30, eval_every=15, lr=3e-3)


def run(torch, tm, impl="packed-sdpa", adam_foreach=False, seed=0, log=None, quick=False):
    """Trains to the target; returns a dict: seconds, steps, correct, total, accuracy, params.
    quick: the tutorial's --quick settings instead of its defaults."""
    import torch.nn.functional as F

    s = QUICK_SETTINGS if quick else SETTINGS
    vocab = FIRST_SYMBOL + s["symbols"]
    length = s["length"]

    # Held-out sources: distinct, from their own generator (as nn::data::Dataset).
    held_gen = torch.Generator().manual_seed(seed + 1000)
    held_out, held_keys = [], set()
    while len(held_out) < s["held_out"]:
        source = torch.randint(FIRST_SYMBOL, vocab, (length,), generator=held_gen)
        key = tuple(source.tolist())
        if key not in held_keys:
            held_keys.add(key)
            held_out.append(source)
    held_src = torch.stack(held_out)
    held_tgt = held_src.flip(1)

    torch.manual_seed(seed)
    data_gen = torch.Generator().manual_seed(seed + 1)
    model = tm.Seq2Seq(vocab, vocab, length + 1, s["d_model"], s["heads"], s["layers"],
                       s["layers"], s["d_ff"], impl)
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"], foreach=adam_foreach)
    bos = torch.full((s["batch"], 1), BOS, dtype=torch.long)
    eos = torch.full((s["batch"], 1), EOS, dtype=torch.long)

    def training_batch():
        src = torch.randint(FIRST_SYMBOL, vocab, (s["batch"], length), generator=data_gen)
        for i, row in enumerate(src.tolist()):  # keep the held-out sources unseen
            while tuple(row) in held_keys:
                src[i] = torch.randint(FIRST_SYMBOL, vocab, (length,), generator=data_gen)
                row = src[i].tolist()
        tgt = src.flip(1)
        return src, torch.cat([bos, tgt], 1), torch.cat([tgt, eos], 1)

    @torch.no_grad()
    def exact_match(batch_size=256):
        model.eval()
        correct = 0
        for start in range(0, len(held_src), batch_size):
            src, tgt = held_src[start:start + batch_size], held_tgt[start:start + batch_size]
            memory = model.encode(src)
            tokens = torch.full((len(src), 1), BOS, dtype=torch.long)
            done = torch.zeros(len(src), dtype=torch.bool)
            for _ in range(length + 1):  # target + EOS
                next_token = model.decode(tokens, memory)[:, -1].argmax(-1)
                next_token = torch.where(done, torch.full_like(next_token, EOS), next_token)
                tokens = torch.cat([tokens, next_token[:, None]], 1)
                done |= next_token == EOS
                if bool(done.all()):
                    break
            out = tokens[:, 1:]
            for row, want in zip(out.tolist(), tgt.tolist()):
                if EOS in row and row[:row.index(EOS)] == want:
                    correct += 1
        model.train()
        return correct

    seconds, step, correct = 0.0, 0, 0
    best = 0.0
    while step < s["steps"] and best < s["target"]:
        start = time.perf_counter()
        src, tgt_in, tgt_out = training_batch()
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, vocab), tgt_out.reshape(-1), ignore_index=PAD)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        seconds += time.perf_counter() - start
        if step % s["eval_every"] == 0 or step == s["steps"]:
            correct = exact_match()
            best = correct / len(held_src)
            if log:
                log(f"  step {step}: loss {loss.item():.4f}, held-out exact match "
                    f"{100 * best:.1f}% ({correct}/{len(held_src)}), {seconds:.1f} s of training")
    return {"seconds": seconds, "steps": step, "correct": correct, "total": len(held_src),
            "accuracy": best, "params": tm.num_parameters(model), "attention": impl,
            "adam": "foreach" if adam_foreach else "for-loop"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="threads (0 = one per core)")
    parser.add_argument("--attention-impl", default="packed-sdpa",
                        help="packed-sdpa, packed, separate or mha (bench/torch_models.py)")
    parser.add_argument("--adam-foreach", action="store_true", help="torch's multi-tensor Adam")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="the tutorial's --quick settings (seconds; not expected to reach 99%%)")
    args = parser.parse_args()

    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_env
    threads = args.threads or os.cpu_count()
    torch_env.configure(threads)
    import torch
    import torch_models as tm
    limiter = torch_env.pin(torch, threads)  # noqa: F841 (kept alive)
    print(f"torch {torch.__version__}, {threads} threads, attention {args.attention_impl}",
          flush=True)
    result = run(torch, tm, args.attention_impl, args.adam_foreach, args.seed,
                 log=lambda line: print(line, flush=True), quick=args.quick)
    print(f"{result['params']} parameters")
    print(f"held-out exact match: {100 * result['accuracy']:.1f}% ({result['correct']}/"
          f"{result['total']}) after {result['steps']} steps, {result['seconds']:.1f} s of training")
    return 0 if args.quick or result["accuracy"] >= SETTINGS["target"] else 1


if __name__ == "__main__":
    sys.exit(main())
