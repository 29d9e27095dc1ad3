# 14_gpt_decoder — the whiteboard version of tutorials/14_gpt_decoder.cpp (its sampling step)
#   注意力机制在文本生成（Text Generation）中的应用有哪些？GPT 这类只有解码器的模型是如何生成文本的？
#   How is attention used in text generation: how does a decoder-only (GPT) model generate text?
# A GPT runs the prompt through causal Transformer blocks, turns the logits of the LAST position
# into one token, appends it and repeats. Turning logits into a token:
#   greedy: argmax; temperature T: sample from softmax(logits / T) (T < 1 sharper, T > 1 flatter);
#   top-k: keep the k largest logits (-inf elsewhere) before the softmax; k = 1 is greedy.
# The C++ program sampled thousands of tokens from one set of logits: its frequencies must match
# these probabilities within a few standard deviations, and never pick outside the top k.
import numpy as np

from twin_check import Saved, report


def next_token_probs(logits, temperature=1.0, top_k=0):
    z = logits / temperature
    if top_k > 0:  # ties with the k-th largest are kept
        z = np.where(z >= np.sort(z)[-top_k], z, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def sample_next_token(logits, temperature, top_k, rng):
    if temperature == 0 or top_k == 1:
        return int(np.argmax(logits))  # greedy
    return int(rng.choice(len(logits), p=next_token_probs(logits, temperature, top_k)))


if __name__ == "__main__":
    saved = Saved("14_gpt_decoder")
    logits = saved["logits"].astype(np.float64)  # the model's float32 logits, then float64
    draws = int(saved["draws"][0])
    comparisons = []
    for temperature, top_k in [(1, 0), (2, 0), (1, 2)]:
        name = f"_T{temperature}_k{top_k}"
        p = next_token_probs(logits, temperature, top_k)
        comparisons.append((f"p = softmax(z / {temperature}) over top-{top_k or 'all'}", p,
                            saved["probs" + name], 1e-12))
        # Sampled frequency vs p in units of 5 standard deviations: <= 1 passes; a token outside
        # the top k (p = 0) sampled even once gives inf.
        sd = np.sqrt(p * (1 - p) / draws)
        z = np.where(p > 0, np.abs(saved["freq" + name] - p) / (5 * sd + 1e-12),
                     np.where(saved["freq" + name] > 0, np.inf, 0))
        comparisons.append((f"C++ sampled frequencies, in 5 sd (T={temperature}, k={top_k})",
                            z.max(), 0.0, 1.0))
    rng = np.random.default_rng(0)
    ours = np.bincount([sample_next_token(logits, 1.0, 2, rng) for _ in range(draws)],
                       minlength=len(logits)) / draws
    print(f"  numpy's own top-2 sample of {draws}: {np.round(ours, 3).tolist()}")
    assert sample_next_token(logits, 1.0, 1, rng) == int(np.argmax(logits))
    report("14_gpt_decoder", comparisons)
