// 24_tiny_llm — How does a small modern LLM train on real text?
//               一个小型的现代大语言模型（LLM）是如何在真实文本上训练的？
//
// Short answer
//   A decoder-only Transformer reads a window of characters and, at every position, predicts the
//   next one; the loss is the cross-entropy of that prediction (nats per character), averaged
//   over all positions of random windows of the text. Its baseline is the unigram entropy of the
//   text: the loss of the best model that ignores context and predicts every character by its
//   frequency alone. Anything below it is context the model has learned (letters that follow
//   letters, then words); a held-out part of the text, never trained on, tells learning from
//   memorising. Perplexity = exp(loss) is the same number as "choosing among that many
//   characters". To write text, the model samples one character at a time from softmax(logits /
//   T) over the k most likely, and a KV cache keeps the keys and values of the characters already
//   read so each new character costs one position, not the whole window again.
//
// What this program shows
//   1. the text (default: the GNU GPL version 3, /usr/share/common-licenses/GPL-3, on every Debian
//      and Ubuntu system; --text FILE for any other UTF-8 text): its characters become the
//      vocabulary; the last 10% of each section of about 10,000 characters is held out; the unigram entropy, counted by hand and checked
//      against the loss of a model that predicts only the frequencies;
//   2. the model: nn::GPT in LLaMA's shape: rotary position embeddings (RoPE) in every
//      attention, RMSNorm, a SwiGLU feed-forward, grouped-query attention (4 query heads sharing 2
//      key/value heads, so the KV cache holds half as much); --position, --norm, --mlp and
//      --kv-heads switch each piece back to GPT-2's (learned positions, LayerNorm, GELU, MHA);
//   3. training: random windows of the text (a seeded generator), AdamW with warmup and cosine
//      decay, gradient clipping; a progress bar with tokens per second and an ETA; every
//      --eval-every steps the train and held-out loss, their perplexity and a sample written by
//      the model (same seed every time, so the samples show what changed); a checkpoint with the
//      model's configuration and vocabulary (written atomically; a diverging run never replaces
//      the last good one); --resume continues from it, --stop-after N stops early as if
//      interrupted;
//   4. the held-out loss checked against a plain loop (log-softmax by hand in float64), the
//      perplexity as exp(loss), the model rebuilt from the checkpoint alone giving the same loss,
//      KV-cached generation equal to generation without the cache;
//   5. the loss curve (tiny_llm_loss.png) against the unigram entropy.
//   With --generate "prompt" it loads the checkpoint and writes --tokens characters after the
//   prompt, without training.
//
// Run:  build/tutorials/24_tiny_llm                 (a few minutes: trains and writes a checkpoint)
//       build/tutorials/24_tiny_llm --generate "This License"
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nn/checkpoint.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
using autograd::NoGradGuard;
namespace fs = std::filesystem;

namespace {

// ---- the text and its characters -------------------------------------------------------------

// The characters of a UTF-8 text, one code point each; throws naming `where` and the byte at
// which the text stops being UTF-8.
std::u32string decode_utf8(const std::string& bytes, const std::string& where) {
  std::u32string out;
  std::size_t i = 0;
  auto fail = [&](const char* what) {
    throw std::runtime_error(where + ": not UTF-8 text (" + what + " at byte " + std::to_string(i) +
                             "); give a text file with --text");
  };
  while (i < bytes.size()) {
    unsigned char lead = static_cast<unsigned char>(bytes[i]);
    int extra = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xE ? 2 : (lead >> 3) == 0x1E ? 3 : -1;
    if (extra < 0) fail("a byte that starts no character");
    if (i + extra >= bytes.size()) fail("a character cut off by the end of the file");
    char32_t code = extra == 0 ? lead : lead & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      unsigned char next = static_cast<unsigned char>(bytes[i + k]);
      if ((next >> 6) != 0x2) fail("a character cut short");
      code = (code << 6) | (next & 0x3F);
    }
    static const char32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < smallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      fail("an invalid character");
    out.push_back(code);
    i += extra + 1;
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  for (char32_t c : text) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | (c >> 6)), out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | (c >> 12)), out += char(0x80 | ((c >> 6) & 0x3F)), out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | (c >> 18)), out += char(0x80 | ((c >> 12) & 0x3F));
      out += char(0x80 | ((c >> 6) & 0x3F)), out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// A character as a reader can see it in a message: 'a', '\n', U+0007.
std::string shown(char32_t c) {
  if (c == '\n') return "'\\n'";
  if (c == '\t') return "'\\t'";
  if (c < 0x20 || c == 0x7F) {
    char code[16];
    std::snprintf(code, sizeof code, "U+%04X", unsigned(c));
    return code;
  }
  return "'" + encode_utf8(std::u32string(1, c)) + "'";
}

// The most distinct characters a text may have: a character-level model of a few minutes learns
// nothing useful about a character it sees a handful of times (a Chinese text needs a tokenizer).
constexpr std::size_t kMaxVocabulary = 1000;

// Reads a text file for training: its bytes must be UTF-8 text (letters, digits, punctuation,
// spaces, tabs and line breaks; a NUL or another control character means it is not text), not
// empty, with at most kMaxVocabulary distinct characters. Every problem names the file.
std::u32string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read it (" + std::strerror(errno) + ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) throw std::runtime_error(path + ": reading it failed");
  if (bytes.empty()) throw std::runtime_error(path + ": the file is empty; give a text with --text");
  std::u32string text = decode_utf8(bytes, path);
  std::size_t line = 1;
  for (char32_t c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r' && c != '\f') || c == 0x7F)
      throw std::runtime_error(path + ": not a text file (control character " + shown(c) + " on line " +
                               std::to_string(line) + "); give a text file with --text");
    line += c == '\n';
  }
  return text;
}

// The characters of a text, sorted, each with its token id (its index).
struct Vocabulary {
  std::u32string chars;
  std::map<char32_t, std::int64_t> ids;

  explicit Vocabulary(std::u32string sorted_chars) : chars(std::move(sorted_chars)) {
    for (std::size_t i = 0; i < chars.size(); ++i) ids[chars[i]] = std::int64_t(i);
  }
  std::int64_t size() const { return std::int64_t(chars.size()); }
  // The characters of `text` that have no token, each once, as a message fragment ("" when none).
  std::string missing(const std::u32string& text) const {
    std::string list;
    std::u32string seen;
    for (char32_t c : text)
      if (!ids.count(c) && seen.find(c) == std::u32string::npos) {
        seen += c;
        list += (list.empty() ? "" : ", ") + shown(c);
      }
    return list;
  }
  std::vector<std::int64_t> encode(const std::u32string& text) const {
    std::vector<std::int64_t> tokens;
    for (char32_t c : text) tokens.push_back(ids.at(c));
    return tokens;
  }
  std::u32string decode(const std::vector<std::int64_t>& tokens) const {
    std::u32string text;
    for (std::int64_t t : tokens) text += chars[t];
    return text;
  }
};

Vocabulary vocabulary_of(const std::u32string& text) {
  std::u32string chars = text;
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  return Vocabulary(chars);
}

// ---- the model's shape, saved in the checkpoint ---------------------------------------------------

// Everything needed to rebuild the model from its checkpoint, besides the vocabulary.
// The defaults are a LLaMA-style block: rotary positions, RMSNorm, a SwiGLU feed-forward and
// grouped-query attention (2 key/value heads shared by 4 query heads).
struct ModelShape {
  std::int64_t d_model = 128, heads = 4, kv_heads = 2, layers = 4, context = 64;
  std::int64_t d_ff = 0;  // 0: 4 * d_model for GELU; for SwiGLU 8/3 * d_model, up to a multiple of 8
  std::string position = "rope", norm = "rms", mlp = "swiglu";
  double rope_base = 10000;
  double dropout = 0.1;  // only while training; saved so that a resumed run trains the same way
};

// The feed-forward width: SwiGLU has three matrices instead of two, so about 8/3 * d keeps the
// parameter count of GELU's 4 * d (nn::swiglu_hidden_dim, rounded up to a multiple of 8).
std::int64_t feedforward_width(const ModelShape& shape) {
  if (shape.d_ff > 0) return shape.d_ff;
  return shape.mlp == "gelu" ? 4 * shape.d_model : swiglu_hidden_dim(shape.d_model, 8);
}

GPTConfig gpt_config(const ModelShape& shape, std::int64_t vocab) {
  GPTConfig config;
  config.vocab = vocab;
  config.context = shape.context;
  config.d_model = shape.d_model;
  config.nhead = shape.heads;
  config.num_kv_heads = shape.kv_heads;
  config.num_layers = shape.layers;
  config.dim_feedforward = feedforward_width(shape);
  config.dropout = shape.dropout;
  config.position = shape.position;
  config.norm = shape.norm;
  config.mlp = shape.mlp;
  config.rope_base = shape.rope_base;
  return config;
}

std::map<std::string, std::string> shape_metadata(const ModelShape& shape, const Vocabulary& vocabulary) {
  return {{"d_model", std::to_string(shape.d_model)}, {"heads", std::to_string(shape.heads)},
          {"layers", std::to_string(shape.layers)},   {"d_ff", std::to_string(shape.d_ff)},
          {"context", std::to_string(shape.context)}, {"dropout", join_numbers({shape.dropout})},
          {"kv_heads", std::to_string(shape.kv_heads)}, {"position", shape.position},
          {"norm", shape.norm}, {"mlp", shape.mlp}, {"rope_base", join_numbers({shape.rope_base})},
          {"vocabulary", encode_utf8(vocabulary.chars)}};
}

// The shape and vocabulary a checkpoint was trained with, each value checked (present, in range).
struct SavedModel {
  ModelShape shape;
  Vocabulary vocabulary{U""};
};

SavedModel saved_model(const CheckpointMetadata& meta) {
  SavedModel saved;
  saved.shape.d_model = meta.integer("d_model", 1, 4096);
  saved.shape.heads = meta.integer("heads", 1, 256);
  saved.shape.layers = meta.integer("layers", 1, 64);
  saved.shape.d_ff = meta.integer("d_ff", 0, 65536);
  saved.shape.context = meta.integer("context", 2, 4096);
  saved.shape.dropout = meta.number("dropout", 0, 0.9);
  if (saved.shape.d_model % saved.shape.heads != 0) meta.fail("heads", "does not divide d_model");
  saved.shape.kv_heads = meta.integer("kv_heads", 1, saved.shape.heads, "heads");
  if (saved.shape.heads % saved.shape.kv_heads != 0) meta.fail("kv_heads", "does not divide heads");
  auto choice = [&](const char* key, const std::vector<std::string>& choices) {
    const std::string& value = meta.text(key);
    if (std::find(choices.begin(), choices.end(), value) == choices.end())
      meta.fail(key, "is \"" + value + "\", not one of the choices");
    return value;
  };
  saved.shape.position = choice("position", {"learned", "sinusoidal", "rope"});
  saved.shape.norm = choice("norm", {"layer", "rms"});
  saved.shape.mlp = choice("mlp", {"gelu", "swiglu"});
  saved.shape.rope_base = meta.number("rope_base", 2, 1e9);
  std::u32string chars;
  try {
    chars = decode_utf8(meta.text("vocabulary"), "vocabulary");
  } catch (const std::runtime_error& e) {
    meta.fail("vocabulary", e.what());
  }
  if (chars.empty() || chars.size() > kMaxVocabulary || !std::is_sorted(chars.begin(), chars.end()) ||
      std::adjacent_find(chars.begin(), chars.end()) != chars.end())
    meta.fail("vocabulary", "is not 1.." + std::to_string(kMaxVocabulary) + " distinct characters in order");
  saved.vocabulary = Vocabulary(chars);
  return saved;
}

// ---- batches and losses --------------------------------------------------------------------------

// Windows of `length + 1` tokens starting at `starts`: inputs are the first `length` tokens,
// targets the same shifted by one (the next character at every position).
struct Windows {
  Tensor inputs, targets;  // [B, T] int64 each
};

Windows windows(const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& starts,
                std::int64_t length) {
  std::vector<std::int64_t> inputs, targets;
  for (std::int64_t start : starts) {
    inputs.insert(inputs.end(), tokens.begin() + start, tokens.begin() + start + length);
    targets.insert(targets.end(), tokens.begin() + start + 1, tokens.begin() + start + length + 1);
  }
  const std::int64_t B = std::int64_t(starts.size());
  return {autograd::from_vector(inputs, {B, length}), autograd::from_vector(targets, {B, length})};
}

// Mean next-character cross-entropy (nats) of logits [B, T, V] against targets [B, T].
Tensor next_token_loss(const Tensor& logits, const Tensor& targets) {
  return autograd::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

// Starts of non-overlapping windows of length + 1 tokens in [begin, end), at most `most` of them,
// spread evenly: a fixed set, so that losses measured at different steps are comparable.
std::vector<std::int64_t> evaluation_starts(std::int64_t begin, std::int64_t end, std::int64_t length,
                                            std::int64_t most) {
  std::int64_t count = std::min(most, (end - begin - 1) / length);
  std::vector<std::int64_t> starts;
  for (std::int64_t i = 0; i < count; ++i)
    starts.push_back(begin + i * ((end - begin - length - 1) / std::max<std::int64_t>(count - 1, 1)));
  return starts;
}

// The text cut into a part to train on and a held-out part that training never sees. The
// held-out characters are the last `fraction` of each of `sections` equal sections of the text
// (the last 10% of each quarter, say), so that they come from all over it: the end of a text alone
// can differ from the rest (the GPL ends with its disclaimers in capitals and an appendix). Each
// part's pieces are joined end to end, as documents are in a language model's training stream.
struct Split {
  std::vector<std::int64_t> train, held_out;
  std::vector<std::pair<std::int64_t, std::int64_t>> held_out_ranges;  // [begin, end) in the text
};

Split split_text(const std::vector<std::int64_t>& tokens, double fraction, std::int64_t sections) {
  Split split;
  const std::int64_t N = std::int64_t(tokens.size());
  for (std::int64_t s = 0; s < sections; ++s) {
    std::int64_t begin = N * s / sections, end = N * (s + 1) / sections;
    std::int64_t cut = end - std::int64_t(std::llround(fraction * double(end - begin)));
    split.train.insert(split.train.end(), tokens.begin() + begin, tokens.begin() + cut);
    split.held_out.insert(split.held_out.end(), tokens.begin() + cut, tokens.begin() + end);
    split.held_out_ranges.emplace_back(cut, end);
  }
  return split;
}

// The mean loss of the model on fixed windows, in eval mode and without gradients.
double evaluate(GPT& model, const std::vector<std::int64_t>& tokens, const std::vector<std::int64_t>& starts,
                std::int64_t length) {
  NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  Windows w = windows(tokens, starts, length);
  double loss = next_token_loss(model.forward(w.inputs), w.targets).item();
  model.train(was_training);
  return loss;
}

// ---- generation ---------------------------------------------------------------------------------

// Appends `count` tokens to `tokens`, written by the model. The model sees at most `context`
// tokens; when the text reaches that, it keeps the last half as the new prompt and goes on
// (each GPT::generate call runs with its own KV cache, or without one when !use_cache).
std::vector<std::int64_t> write_more(GPT& model, std::vector<std::int64_t> tokens, std::int64_t count,
                                     const SamplingOptions& sampling, Generator& gen, bool use_cache) {
  const std::int64_t context = model.config.context, room = std::max<std::int64_t>(context / 2, 1);
  while (count > 0) {
    std::int64_t keep = std::min<std::int64_t>(std::int64_t(tokens.size()), context - std::min(count, room));
    std::int64_t n = std::min(count, context - keep);
    std::vector<std::int64_t> prompt(tokens.end() - keep, tokens.end());
    Tensor written = model.generate(autograd::from_vector(prompt, {1, keep}), n, sampling, gen, use_cache);  // [1, keep + n]
    std::vector<std::int64_t> all = written.to_vector<std::int64_t>();
    tokens.insert(tokens.end(), all.end() - n, all.end());
    count -= n;
  }
  return tokens;
}

// A sample on one line: line breaks shown as "⏎".
std::string one_line(const std::u32string& text) {
  std::string out;
  for (char32_t c : text) out += c == '\n' ? "⏎" : c == '\r' ? "" : encode_utf8(std::u32string(1, c));
  return out;
}

// ---- do the samples read like the text? ----------------------------------------------------------

bool is_letter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

// The words of a text: runs of letters (ASCII letters, and every character beyond ASCII), with
// ASCII lower-cased ("This" and "this" are one word).
std::vector<std::u32string> words_of(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (char32_t c : text + U" ") {
    if (is_letter(c)) {
      word += (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  return words;
}

// The share of the words of `sample` that are in `known`.
double known_word_share(const std::u32string& sample, const std::set<std::u32string>& known) {
  std::vector<std::u32string> words = words_of(sample);
  std::int64_t found = 0;
  for (const std::u32string& w : words) found += known.count(w);
  return words.empty() ? 0.0 : double(found) / double(words.size());
}

// ---- --generate ---------------------------------------------------------------------------------

const char* const kRule = "--------------------------------------------------------------------------------";

struct GenerateSettings {
  std::string prompt;
  std::int64_t tokens = 400, top_k = 10;
  double temperature = 0.8;
};

// Loads the checkpoint (its shape and vocabulary from the metadata, the weights strictly), writes
// after the prompt, and checks that the KV cache changed nothing.
int generate_from_checkpoint(const fs::path& checkpoint, const GenerateSettings& g, std::uint64_t seed,
                             tutorial::Checks& checks) {
  if (!fs::exists(checkpoint))
    throw tutorial::UsageError("--generate: no checkpoint at " + checkpoint.string() +
                               "; train first (run without --generate, same --out)");
  tutorial::section("Generating from " + checkpoint.string());
  CheckpointMetadata meta(load_safetensors(checkpoint.string()).metadata, checkpoint.string());
  SavedModel saved = saved_model(meta);
  std::u32string prompt;
  try {
    prompt = decode_utf8(g.prompt, "--generate");
  } catch (const std::runtime_error& e) {
    throw tutorial::UsageError(e.what());
  }
  if (prompt.empty()) throw tutorial::UsageError("--generate: the prompt is empty; give at least one character");
  std::string missing = saved.vocabulary.missing(prompt);
  if (!missing.empty())
    throw tutorial::UsageError("--generate: the prompt has characters the model never saw in its text: " + missing);
  Generator model_gen(0);
  GPT model(gpt_config(saved.shape, saved.vocabulary.size()), model_gen);
  load_checkpoint(checkpoint.string(), model, nullptr);
  std::printf("  trained for %s steps; vocabulary of %lld characters, context %lld\n",
              meta.text("step").c_str(), (long long)saved.vocabulary.size(), (long long)saved.shape.context);
  std::printf("  T = %g, top-k %lld, seed %llu\n\n", g.temperature, (long long)g.top_k, (unsigned long long)seed);
  std::vector<std::int64_t> tokens = saved.vocabulary.encode(prompt);
  Generator cached_gen(seed), uncached_gen(seed);
  SamplingOptions sampling{g.temperature, g.top_k};
  std::vector<std::int64_t> written = write_more(model, tokens, g.tokens, sampling, cached_gen, true);
  // Between two rules, exactly as written (a script can cut it out).
  std::printf("%s\n%s\n%s\n\n", kRule, encode_utf8(saved.vocabulary.decode(written)).c_str(), kRule);
  checks.check(written == write_more(model, tokens, g.tokens, sampling, uncached_gen, false),
               "the same characters without the KV cache (same seed)");
  return checks.finish();
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "24_tiny_llm",
    .chinese = "一个小型的现代大语言模型（LLM）是如何在真实文本上训练的？",
    .english = "How does a small modern LLM train on real text?",
    .answer = "A decoder-only Transformer (here LLaMA-shaped: RoPE, RMSNorm, SwiGLU, grouped-query\n"
              "attention) predicts the next character at every position of random\n"
              "windows of the text, trained by cross-entropy (nats per character). The unigram entropy\n"
              "of the text is the loss of a model that ignores context; held-out loss well below it is\n"
              "context learned (spelling, then words), and exp(loss) is the perplexity. It writes text\n"
              "by sampling one character at a time, a KV cache keeping what it already read.",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::string text_path = "/usr/share/common-licenses/GPL-3";
  ModelShape shape;
  std::int64_t batch = 16, steps = 1000, eval_every = 100, eval_windows = 64, sample_chars = 120;
  std::int64_t stop_after = 0;
  double lr = 2e-3, held_out_fraction = 0.1, goal = 0.6;
  bool resume = false;
  GenerateSettings g;
  flags.add_input_file("--text", text_path, "UTF-8 text to train on (default: the GPL version 3)");
  flags.add("--d-model", shape.d_model, "model width", tutorial::between(8, 1024));
  flags.add("--heads", shape.heads, "attention heads (must divide --d-model)", tutorial::between(1, 64));
  flags.add("--kv-heads", shape.kv_heads, "key/value heads (must divide --heads; 1: multi-query, = --heads: MHA)",
            tutorial::between(1, 64));
  flags.add("--position", shape.position, "how the model knows positions", {"rope", "learned", "sinusoidal"});
  flags.add("--rope-base", shape.rope_base, "RoPE's base (its wavelengths)", tutorial::between(2, 1e9));
  flags.add("--norm", shape.norm, "RMSNorm or LayerNorm", {"rms", "layer"});
  flags.add("--mlp", shape.mlp, "the feed-forward: SwiGLU or GELU", {"swiglu", "gelu"});
  flags.add("--layers", shape.layers, "Transformer blocks", tutorial::between(1, 32));
  flags.add("--d-ff", shape.d_ff, "feed-forward width (0: 8/3 x d-model for SwiGLU, 4 x for GELU)",
            tutorial::between(0, 16384));
  flags.add("--context", shape.context, "characters the model sees at once", tutorial::between(2, 1024));
  flags.add("--dropout", shape.dropout, "dropout probability while training", tutorial::between(0, 0.9));
  flags.add("--batch", batch, "windows per step", tutorial::between(1, 4096));
  flags.add("--steps", steps, "training steps (the learning-rate schedule ends here)", tutorial::between(1, 1000000));
  flags.add("--stop-after", stop_after, "stop after this step as if interrupted (0: run to --steps)",
            tutorial::between(0, 1000000));
  flags.add("--lr", lr, "peak learning rate (AdamW, warmup then cosine)", tutorial::positive(10));
  flags.add("--eval-every", eval_every, "held-out loss, a sample and a checkpoint every N steps",
            tutorial::between(1, 1000000));
  flags.add("--eval-windows", eval_windows, "windows of each part the printed losses are measured on",
            tutorial::between(1, 100000));
  flags.add("--held-out", held_out_fraction, "the fraction at the end of the text never trained on",
            tutorial::between(0.01, 0.5));
  flags.add("--goal", goal, "the check: held-out loss below this fraction of the unigram entropy",
            tutorial::positive(1));
  flags.add_switch("--resume", resume, "continue from <out>/checkpoint.safetensors");
  flags.add_text("--generate", g.prompt, "load the checkpoint and write after this prompt (no training)");
  flags.add("--tokens", g.tokens, "characters --generate writes", tutorial::between(1, 100000));
  flags.add("--temperature", g.temperature, "sampling temperature (0: greedy)", tutorial::between(0, 10));
  flags.add("--top-k", g.top_k, "sample among the k most likely characters (0: all)", tutorial::between(0, 1000));
  flags.parse(argc, argv);
  if (options.quick) {  // about a second: a tiny model, a few steps (flags given win)
    flags.quick(shape.d_model, 32), flags.quick(shape.heads, 2), flags.quick(shape.kv_heads, 1);
    flags.quick(shape.layers, 1), flags.quick(shape.context, 16), flags.quick(batch, 8);
    flags.quick(steps, 40), flags.quick(eval_every, 20), flags.quick(eval_windows, 16);
    flags.quick(lr, 1e-2), flags.quick(g.tokens, 40);
    sample_chars = 40;
  }
  tutorial::Checks checks;
  const fs::path checkpoint = fs::path(options.out) / "checkpoint.safetensors";

  const bool generating = flags.given(&g.prompt);
  tutorial::Flags::require(!(generating && resume), "--generate and --resume: choose one (--generate does not train)");
  if (generating) return generate_from_checkpoint(checkpoint, g, options.seed, checks);
  tutorial::Flags::require(shape.d_model % shape.heads == 0, "--heads " + std::to_string(shape.heads) +
                                                                 " does not divide --d-model " + std::to_string(shape.d_model));
  tutorial::Flags::require(shape.heads % shape.kv_heads == 0, "--kv-heads " + std::to_string(shape.kv_heads) +
                                                                  " does not divide --heads " + std::to_string(shape.heads));
  tutorial::Flags::require(stop_after <= steps, "--stop-after " + std::to_string(stop_after) +
                                                    " is past --steps " + std::to_string(steps));

  tutorial::section("1. The text and its characters");
  if (!fs::exists(text_path))
    throw std::runtime_error(text_path + ": no such file; give a text with --text FILE");
  const std::u32string text = read_text(text_path);
  Vocabulary vocabulary = vocabulary_of(text);
  if (std::size_t(vocabulary.size()) > kMaxVocabulary)
    throw std::runtime_error(text_path + ": " + std::to_string(vocabulary.size()) + " distinct characters, more than " +
                             std::to_string(kMaxVocabulary) + " (too many for a character-level model of minutes)");
  const std::vector<std::int64_t> tokens = vocabulary.encode(text);
  const std::int64_t N = std::int64_t(tokens.size());
  std::printf("  %s: %lld characters, %lld distinct\n", text_path.c_str(), (long long)N, (long long)vocabulary.size());
  // The held-out part: the last 10% (--held-out) of each section of about 10,000 characters.
  const std::int64_t sections = std::max<std::int64_t>(1, std::llround(double(N) / 10000.0));
  const Split split = split_text(tokens, held_out_fraction, sections);
  std::printf("  held out (never trained on): %lld characters, the last %.0f%% of each of %lld sections:",
              (long long)split.held_out.size(), 100 * held_out_fraction, (long long)sections);
  for (auto [begin, end] : split.held_out_ranges) std::printf(" %lld..%lld", (long long)begin, (long long)end - 1);
  std::printf("\n  trained on: the other %lld characters\n", (long long)split.train.size());

  // Unigram entropy H = -sum_c p(c) log p(c), p(c) = count(c) / N: the loss (nats per character)
  // of the best model that ignores context. Counted here with a plain map over the characters...
  std::map<char32_t, double> counts;
  for (char32_t c : text) counts[c] += 1;
  double entropy = 0;
  for (auto [c, count] : counts) entropy -= count / double(N) * std::log(count / double(N));
  std::printf("  unigram entropy: %.4f nats/char (%.3f bits), perplexity %.2f: as uncertain as a choice among\n"
              "  %.1f equally likely characters; a uniform guess over the vocabulary would be log %lld = %.4f\n",
              entropy, entropy / std::log(2.0), std::exp(entropy), std::exp(entropy), (long long)vocabulary.size(),
              std::log(double(vocabulary.size())));
  {
    // ...and as the cross-entropy loss of that model: logits log p(c), the same at every position.
    std::vector<double> log_p(vocabulary.size());
    for (auto [c, count] : counts) log_p[vocabulary.ids.at(c)] = std::log(count / double(N));
    Tensor logits = autograd::from_vector(log_p, {1, vocabulary.size()}).expand({N, vocabulary.size()});
    double unigram_loss = autograd::cross_entropy(logits, autograd::from_vector(tokens, {N})).item();
    checks.close(unigram_loss, entropy, 1e-9, "unigram entropy = cross-entropy of the frequency-only model");
  }
  tutorial::section("2. The model");
  // One generator draws the initial weights and then the dropout masks, another the training
  // windows; their positions are saved in the checkpoint, so a resumed run draws the masks and
  // windows an uninterrupted one would have.
  Generator model_gen(options.seed), data_gen(options.seed + 1);
  std::int64_t start_step = 0;
  std::vector<double> losses;                            // one per step
  std::vector<double> evals;                             // step, train loss, held-out loss, ...
  double seconds = 0;
  if (resume) {
    if (!fs::exists(checkpoint))
      throw tutorial::UsageError("--resume: no checkpoint at " + checkpoint.string());
    CheckpointMetadata meta(load_safetensors(checkpoint.string()).metadata, checkpoint.string());
    SavedModel saved = saved_model(meta);
    // The checkpoint decides the model's shape; a shape flag given now must agree with it.
    auto same = [&](const char* flag, std::int64_t& value, std::int64_t saved_value) {
      if (flags.given(&value) && value != saved_value)
        throw tutorial::UsageError(std::string(flag) + " " + std::to_string(value) + " differs from the checkpoint's " +
                                   std::to_string(saved_value) + " (a resumed run keeps its model)");
      value = saved_value;
    };
    same("--d-model", shape.d_model, saved.shape.d_model), same("--heads", shape.heads, saved.shape.heads);
    same("--layers", shape.layers, saved.shape.layers), same("--d-ff", shape.d_ff, saved.shape.d_ff);
    same("--context", shape.context, saved.shape.context), same("--kv-heads", shape.kv_heads, saved.shape.kv_heads);
    auto same_text = [&](const char* flag, std::string& value, const std::string& saved_value) {
      if (flags.given(&value) && value != saved_value)
        throw tutorial::UsageError(std::string(flag) + " " + value + " differs from the checkpoint's " + saved_value +
                                   " (a resumed run keeps its model)");
      value = saved_value;
    };
    same_text("--position", shape.position, saved.shape.position), same_text("--norm", shape.norm, saved.shape.norm);
    same_text("--mlp", shape.mlp, saved.shape.mlp);
    if (flags.given(&shape.rope_base) && shape.rope_base != saved.shape.rope_base)
      throw tutorial::UsageError("--rope-base " + join_numbers({shape.rope_base}) + " differs from the checkpoint's " +
                                 join_numbers({saved.shape.rope_base}) + " (a resumed run keeps its model)");
    shape.rope_base = saved.shape.rope_base;
    if (flags.given(&shape.dropout) && shape.dropout != saved.shape.dropout)
      throw tutorial::UsageError("--dropout " + join_numbers({shape.dropout}) + " differs from the checkpoint's " +
                                 join_numbers({saved.shape.dropout}) + " (a resumed run keeps its model)");
    shape.dropout = saved.shape.dropout;
    if (saved.vocabulary.chars != vocabulary.chars)
      meta.fail("vocabulary", "differs from the characters of " + text_path + ": resume with the text it was trained on");
  }
  if (std::int64_t(split.train.size()) <= shape.context + 1 || std::int64_t(split.held_out.size()) <= shape.context + 1)
    throw std::runtime_error(text_path + ": " + std::to_string(N) + " characters are too few for --context " +
                             std::to_string(shape.context) + ": the training part and the held-out part must each " +
                             "hold a window of context + 1 characters");
  // Fixed windows for the losses printed during training: the held-out part (up to
  // --eval-windows of them) and as many spread over the training part.
  const std::int64_t held_out_size = std::int64_t(split.held_out.size()), train_size = std::int64_t(split.train.size());
  const std::vector<std::int64_t> held_out_starts = evaluation_starts(0, held_out_size, shape.context, eval_windows);
  const std::vector<std::int64_t> train_starts = evaluation_starts(0, train_size, shape.context, eval_windows);
  GPT model(gpt_config(shape, vocabulary.size()), model_gen);
  std::printf("  GPT: %lld blocks, d_model %lld, %lld query heads sharing %lld key/value heads, positions %s,\n"
              "  norm %s, feed-forward %s of width %lld, context %lld characters, vocabulary %lld, dropout %g:\n"
              "  %lld parameters\n",
              (long long)shape.layers, (long long)shape.d_model, (long long)shape.heads, (long long)shape.kv_heads,
              shape.position.c_str(), shape.norm.c_str(), shape.mlp.c_str(), (long long)feedforward_width(shape),
              (long long)shape.context, (long long)vocabulary.size(), shape.dropout, (long long)model.num_parameters());
  AdamW optimizer(model.parameters(), lr, 0.9, 0.95, 1e-8, 0.01);
  if (resume) {
    CheckpointMetadata meta(load_checkpoint(checkpoint.string(), model, &optimizer), checkpoint.string());
    start_step = meta.integer("step", 0, steps, "this run's --steps");
    tutorial::Flags::require(stop_after == 0 || stop_after >= start_step,
                             "--stop-after " + std::to_string(stop_after) + " is before the checkpoint's step " +
                                 std::to_string(start_step));
    data_gen.set_offset(meta.unsigned_integer("data_offset"));
    model_gen.set_offset(meta.unsigned_integer("model_offset"));
    losses = meta.numbers("losses");
    if (losses.size() != std::size_t(start_step))
      meta.fail("losses", "holds " + std::to_string(losses.size()) + " losses, expected one per step: " +
                              std::to_string(start_step));
    evals = meta.numbers("evals");
    if (evals.size() % 3 != 0) meta.fail("evals", "is not (step, train loss, held-out loss) triples");
    seconds = meta.number("seconds", 0, 1e9);
    // The loss the saved model had on the held-out windows, measured again on the loaded one.
    double saved_loss = meta.number("held_out_loss", 0, 1e6);
    double loaded_loss = evaluate(model, split.held_out, held_out_starts, shape.context);
    std::printf("  resumed from %s at step %lld\n", checkpoint.c_str(), (long long)start_step);
    checks.close(loaded_loss, saved_loss, 1e-5, "the resumed model's held-out loss equals the one it was saved with");
  }
  std::printf("  before training, the loss is about log %lld = %.3f: every character equally likely\n",
              (long long)vocabulary.size(), std::log(double(vocabulary.size())));

  // The sample printed during training: the model continues the first characters of the held-out
  // part, with a generator seeded the same way each time, so only the model changes between them.
  // It starts at the first line of that part (when one starts soon enough), not mid-word.
  const std::vector<std::int64_t>& held = split.held_out;
  std::int64_t prompt_start = 0;
  for (std::int64_t i = 0; i + 1 < std::min<std::int64_t>(held_out_size, 200); ++i)
    if (vocabulary.chars[held[i]] == '\n' && vocabulary.chars[held[i + 1]] != '\n' && vocabulary.chars[held[i + 1]] != ' ') {
      prompt_start = i + 1;
      break;
    }
  const std::int64_t prompt_length = std::min<std::int64_t>({16, shape.context / 2, held_out_size - prompt_start});
  const std::vector<std::int64_t> sample_prompt(held.begin() + prompt_start, held.begin() + prompt_start + prompt_length);
  const SamplingOptions sample_sampling{g.temperature, g.top_k};
  auto sample = [&](std::int64_t chars) {
    Generator sample_gen(options.seed + 2);
    return vocabulary.decode(write_more(model, sample_prompt, chars, sample_sampling, sample_gen, true));
  };

  auto save = [&](std::int64_t step, double held_out_loss) {
    std::map<std::string, std::string> metadata = shape_metadata(shape, vocabulary);
    metadata.insert({{"step", std::to_string(step)},
                     {"data_offset", std::to_string(data_gen.offset())},
                     {"model_offset", std::to_string(model_gen.offset())},
                     {"losses", join_numbers(losses)},
                     {"evals", join_numbers(evals)},
                     {"seconds", std::to_string(seconds)},
                     {"held_out_loss", join_numbers({held_out_loss})},
                     {"text", text_path}});
    save_checkpoint(checkpoint.string(), model, &optimizer, metadata);
  };

  tutorial::section("3. Training: predict the next character");
  const std::int64_t last_step = stop_after > 0 ? stop_after : steps;
  std::printf("  each step: %lld random windows of %lld characters (%lld predictions); AdamW, peak lr %g,\n"
              "  warmup then cosine decay over %lld steps; every %lld steps: losses, a sample, a checkpoint\n",
              (long long)batch, (long long)shape.context + 1, (long long)(batch * shape.context), lr, (long long)steps,
              (long long)eval_every);
  std::printf("  sample prompt: \"%s\" (the start of the held-out part)\n\n",
              one_line(vocabulary.decode(sample_prompt)).c_str());
  const std::int64_t warmup = std::max<std::int64_t>(1, steps / 20);
  auto lr_at = [&](std::int64_t step) {  // step 0, 1, ...: warmup, then cosine down to lr / 10
    if (step < warmup) return lr * double(step + 1) / double(warmup);
    double progress = double(step - warmup) / double(std::max<std::int64_t>(steps - warmup, 1));
    return lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
  };
  tutorial::Progress progress(last_step);
  // A non-finite loss or gradient stops the run before it reaches the weights, so before any
  // checkpoint could hold it: the last checkpoint saved stays the last good one.
  DivergenceGuard guard(tutorial::lower_lr_advice(lr));
  double held_out_loss = evals.empty() ? NAN : evals.back(), train_loss = evals.empty() ? NAN : evals[evals.size() - 2];
  double session_seconds = 0, session_tokens = 0;
  std::int64_t step = start_step;
  while (step < last_step) {
    tutorial::Stopwatch step_clock;
    optimizer.set_lr(lr_at(step));
    // Random windows of the training part: starts in 0..train_size - context - 2.
    std::vector<std::int64_t> starts =
        autograd::randint(0, train_size - shape.context - 1, {batch}, data_gen).to_vector<std::int64_t>();
    Windows w = windows(split.train, starts, shape.context);
    Tensor loss = next_token_loss(model.forward(w.inputs), w.targets);  // logits [B, T, V]
    optimizer.zero_grad();
    loss.backward();
    // The norm before clipping: a NaN or inf there stops the run before the update.
    guard.check(step + 1, loss.item(), clip_grad_norm_(model.parameters(), 1.0));
    optimizer.step();
    ++step;
    const double step_seconds = step_clock.seconds();
    seconds += step_seconds, session_seconds += step_seconds, session_tokens += double(batch * shape.context);
    losses.push_back(loss.item());
    progress.update(step, loss.item(), double(batch * shape.context) / step_seconds);
    if (step % eval_every == 0 || step == last_step) {
      train_loss = evaluate(model, split.train, train_starts, shape.context);
      held_out_loss = evaluate(model, split.held_out, held_out_starts, shape.context);
      evals.insert(evals.end(), {double(step), train_loss, held_out_loss});
      char line[200];
      std::snprintf(line, sizeof line, "  step %lld: train loss %.3f (perplexity %.3g), held-out %.3f (perplexity %.3g)",
                    (long long)step, train_loss, std::exp(train_loss), held_out_loss, std::exp(held_out_loss));
      progress.note(line);
      progress.note("    sample: " + one_line(sample(sample_chars)));
      save(step, held_out_loss);
    }
  }
  progress.finish();
  if (step == start_step && std::isnan(held_out_loss)) held_out_loss = evaluate(model, split.held_out, held_out_starts, shape.context);
  std::printf("  %lld steps (%lld this session) in %.1f s of training; %.0f tokens per second this session\n",
              (long long)step, (long long)(step - start_step), seconds,
              session_seconds > 0 ? session_tokens / session_seconds : 0.0);
  std::printf("  checkpoint: %s\n", checkpoint.c_str());
  if (step < steps)
    std::printf("  stopped at step %lld of %lld (--stop-after): continue with --resume\n", (long long)step, (long long)steps);

  tutorial::section("4. What the model learned, checked");
  std::printf("  held-out loss %.4f nats/char vs unigram entropy %.4f: %.2f of it (perplexity %.3g vs %.3g)\n",
              held_out_loss, entropy, held_out_loss / entropy, std::exp(held_out_loss), std::exp(entropy));
  {
    // The held-out loss again, by a plain loop: log-softmax by hand in float64 over the logits.
    NoGradGuard no_grad;
    model.eval();
    Windows w = windows(split.held_out, held_out_starts, shape.context);
    std::vector<double> logits = model.forward(w.inputs).to_vector<double>();  // [B, T, V] flattened
    std::vector<std::int64_t> targets = w.targets.to_vector<std::int64_t>();
    const std::int64_t V = vocabulary.size();
    double total = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const double* z = &logits[i * V];
      double biggest = *std::max_element(z, z + V), sum = 0;
      for (std::int64_t v = 0; v < V; ++v) sum += std::exp(z[v] - biggest);
      total += biggest + std::log(sum) - z[targets[i]];  // -log p(target)
    }
    double by_hand = total / double(targets.size());
    checks.close(by_hand, held_out_loss, 1e-4, "held-out loss = mean -log p(next char), by a plain loop");
    // Perplexity: the geometric mean of 1 / p(next char), computed as a product in chunks (no
    // logarithm of the loss involved), against exp(loss).
    double log_product = 0;  // sum of log(1/p), kept as the log of a running product
    double chunk = 1;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const double* z = &logits[i * V];
      double biggest = *std::max_element(z, z + V), sum = 0;
      for (std::int64_t v = 0; v < V; ++v) sum += std::exp(z[v] - biggest);
      chunk *= sum / std::exp(z[targets[i]] - biggest);  // 1 / p(target)
      if (chunk > 1e100 || i + 1 == targets.size()) log_product += std::log(chunk), chunk = 1;
    }
    double geometric_mean = std::exp(log_product / double(targets.size()));
    checks.close(geometric_mean / std::exp(held_out_loss), 1.0, 1e-4,
                 "perplexity exp(loss) = geometric mean of 1/p(next char) (ratio)");
    model.train();
  }
  {
    // The checkpoint alone rebuilds the model: shape and vocabulary from its metadata, weights
    // strictly; the same held-out loss.
    CheckpointMetadata meta(load_safetensors(checkpoint.string()).metadata, checkpoint.string());
    SavedModel saved = saved_model(meta);
    Generator other_init(options.seed + 99);
    GPT rebuilt(gpt_config(saved.shape, saved.vocabulary.size()), other_init);
    load_checkpoint(checkpoint.string(), rebuilt, nullptr);
    double rebuilt_loss = evaluate(rebuilt, split.held_out, held_out_starts, shape.context);
    checks.check(saved.vocabulary.chars == vocabulary.chars, "the checkpoint holds the vocabulary");
    checks.close(rebuilt_loss, held_out_loss, 1e-5, "the model rebuilt from the checkpoint has the same held-out loss");
  }
  std::u32string final_sample;
  double word_share = 0, unigram_word_share = 0;
  {
    // The KV cache changes nothing: the same characters with and without it, same seed.
    Generator cached_gen(options.seed + 3), uncached_gen(options.seed + 3);
    std::vector<std::int64_t> cached = write_more(model, sample_prompt, 2 * shape.context, sample_sampling, cached_gen, true);
    std::vector<std::int64_t> uncached =
        write_more(model, sample_prompt, 2 * shape.context, sample_sampling, uncached_gen, false);
    checks.check(cached == uncached, "KV-cached generation = generation without the cache (same seed, " +
                                         std::to_string(2 * shape.context) + " characters)");
    final_sample = sample(options.quick ? sample_chars : 4 * sample_chars);
    std::printf("\n  a sample (T = %g, top-k %lld) after \"%s\":\n\n%s\n\n", g.temperature, (long long)g.top_k,
                one_line(vocabulary.decode(sample_prompt)).c_str(), encode_utf8(final_sample).c_str());
  }
  {
    // Does it read like the text? The share of the written words that are words of the training
    // part, against as many characters drawn one by one from the character frequencies alone
    // (the unigram model: it spells nothing on purpose). The prompt is left out, and so is the
    // first written word when the prompt ends inside a word.
    std::set<std::u32string> known;
    for (const std::u32string& w : words_of(vocabulary.decode(split.train))) known.insert(w);
    std::u32string written = final_sample.substr(sample_prompt.size());
    if (!sample_prompt.empty() && is_letter(vocabulary.chars[sample_prompt.back()]))
      written.erase(written.begin(), std::find_if_not(written.begin(), written.end(), is_letter));
    std::vector<double> cumulative;  // the unigram distribution of the training part, summed up
    {
      std::vector<double> count(vocabulary.size(), 0.0);
      for (std::int64_t t : split.train) count[t] += 1;
      double total = 0;
      for (double c : count) cumulative.push_back(total += c / double(split.train.size()));
    }
    Generator unigram_gen(options.seed + 4);
    std::vector<double> uniform = autograd::rand({std::int64_t(written.size())}, unigram_gen, DType::Float64).to_vector<double>();
    std::u32string unigram_sample;
    for (double u : uniform)
      unigram_sample += vocabulary.chars[std::min<std::size_t>(
          std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin(), cumulative.size() - 1)];
    word_share = known_word_share(written, known);
    unigram_word_share = known_word_share(unigram_sample, known);
    std::printf("  words of the training text among the words written: %.0f%% (%zu words); among the words of as many\n"
                "  characters drawn from the character frequencies alone: %.0f%%\n",
                100 * word_share, words_of(written).size(), 100 * unigram_word_share);
  }

  tutorial::section("5. Pictures");
  {
    viz::LinePlot plot("Next-character loss on " + fs::path(text_path).filename().string());
    plot.set_x_label("step").set_y_label("cross-entropy (nats per character)");
    tutorial::add_loss_curve(plot, "training batch (dropout on)", losses);
    std::vector<std::pair<std::int64_t, double>> train_curve, held_out_curve;
    for (std::size_t i = 0; i + 2 < evals.size(); i += 3) {
      train_curve.emplace_back(std::int64_t(evals[i]), evals[i + 1]);
      held_out_curve.emplace_back(std::int64_t(evals[i]), evals[i + 2]);
    }
    tutorial::add_eval_curve(plot, "train windows", train_curve);
    tutorial::add_eval_curve(plot, "held-out windows", held_out_curve);
    plot.add_reference_line(entropy, "unigram entropy");
    plot.add_reference_line(goal * entropy, "goal: " + std::to_string(goal).substr(0, 4) + " x entropy");
    tutorial::save_picture(plot, options, "tiny_llm_loss.png",
                           "the loss starts near log(vocabulary), falls through the unigram entropy within the first "
                           "steps (frequencies), then on below it (context); the gap between the train and held-out "
                           "curves is what the model memorised");
  }

  tutorial::section("6. Checks");
  const double first = losses.empty() ? NAN : losses.front();
  checks.check(held_out_loss < std::log(double(vocabulary.size())),
               "held-out loss below log(vocabulary): better than a uniform guess");
  if (options.quick) {
    std::printf("  (--quick trains too little to beat the unigram entropy: the check that held-out loss falls\n"
                "   below %.2f x the entropy, and samples that read like words, need the default run)\n", goal);
  } else if (step < steps) {
    std::printf("  (stopped early: the goal below is checked once the run reaches --steps)\n");
  } else {
    checks.check(word_share >= 0.5 && word_share >= unigram_word_share + 0.25,
                 "at least half of the written words are words of the text (and 25 points more than "
                 "from character frequencies alone)");
    checks.check(held_out_loss <= goal * entropy,
                 "held-out loss " + std::to_string(held_out_loss).substr(0, 5) + " <= " +
                     std::to_string(goal).substr(0, 4) + " x unigram entropy " + std::to_string(entropy).substr(0, 5));
  }
  int code = checks.finish();
  std::printf("held-out loss: %.4f nats/char (perplexity %.3g) after %lld steps, %.1f s of training; unigram entropy %.4f\n",
              held_out_loss, std::exp(held_out_loss), (long long)step, seconds, entropy);
  char answer[900];
  std::snprintf(answer, sizeof answer,
                "A %s decoder predicting the next character of random windows: %lld steps (%.0f s) took the training\n"
                "loss from %.3f (about log %lld: a uniform guess) to a held-out loss of %.3f nats/char, %.2f of the\n"
                "text's unigram entropy %.3f (the loss of frequencies alone): perplexity %.3g instead of %.3g.\n"
                "%s\n"
                "Of the words it wrote, %.0f%% are words of the text (%.0f%% for characters drawn by frequency).\n"
                "Cached and uncached generation wrote the same characters; the checkpoint alone rebuilds the model.",
                (shape.position + "/" + shape.norm + "/" + shape.mlp + "/" + std::to_string(shape.kv_heads) + "-kv-head").c_str(),
                (long long)step, seconds, first, (long long)vocabulary.size(), held_out_loss, held_out_loss / entropy,
                entropy, std::exp(held_out_loss), std::exp(entropy),
                held_out_loss < entropy ? "What lies below the entropy is context: spelling and words." : "Not yet below the entropy: this run was too short to learn context.",
                100 * word_share, 100 * unigram_word_share);
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
