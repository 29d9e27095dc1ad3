// lora.hpp — LoRA: fine-tuning a frozen Linear layer through a trained low-rank update.
//
// LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models") keeps a pretrained
// weight W [out, in] frozen and learns a small correction ΔW = (alpha / r) · B A of rank r:
//     y = x Wᵀ + b + (alpha / r) · (dropout(x) Aᵀ) Bᵀ          A [r, in], B [out, r]
// Only A and B train: r · (in + out) numbers instead of in · out. B starts at zero, so the
// adapted model starts as exactly the pretrained one; A starts as PEFT's (kaiming-uniform with
// a = √5, the same as a Linear's weight). Dividing by r keeps the size of the update roughly
// independent of r, so alpha need not be retuned when r changes.
//
// After training, merge() folds the update into W (W += (alpha / r) · B A): the layer is then a
// plain Linear again, with no extra cost per token; unmerge() takes it out again (to keep
// training, or to swap in another adapter).
//
// How it attaches. A model holds its layers as shared_ptr<nn::Linear> members, which code
// outside the model cannot replace by another type (PyTorch's PEFT does
// setattr(parent, "q_proj", lora.Linear(base))). So an nn::Linear carries an optional adapter
// (nn::LinearAdapter, nn/layers.hpp) and adds its delta(x) to its output; LoRAAdapter is that
// adapter. The base layer's own parameter names do not change (q_proj.weight stays q_proj.weight,
// so a pretrained checkpoint still loads into the model by name); the adapter's are
// <layer>.lora.A and <layer>.lora.B (PEFT: <layer>.lora_A.default.weight, <layer>.lora_B...).
//
//   auto attached = llm::apply_lora(model, "q_proj|v_proj", {.rank = 4, .alpha = 8});
//   nn::Adam optimizer(llm::lora_parameter_list(model), 1e-3);  // only A and B of each layer
//   ... train ...
//   llm::save_lora(model, "adapters.safetensors");   // the adapters alone: kilobytes
//   llm::merge_lora(model);                            // inference at the base model's cost
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers.hpp"

namespace llm {

using autograd::Tensor;
using tensor::Generator;

struct LoRAConfig {
  std::int64_t rank = 8;  // r, at least 1
  double alpha = 16;      // the update is scaled by alpha / r
  double dropout = 0;     // dropout on the adapter's input while training, in [0, 1)
};

// The LoRA part of one Linear layer: A [r, in], B [out, r] and the scaling alpha / r.
// Attach it with add_lora (one layer) or apply_lora (chosen layers of a model).
class LoRAAdapter : public nn::LinearAdapter {
 public:
  // An adapter for `base` (A drawn from gen, B zero). It does not attach itself: add_lora does.
  // Dropout masks are drawn from `gen`, kept by reference as nn::Dropout does.
  LoRAAdapter(const nn::Linear& base, const LoRAConfig& config,
              Generator& gen = tensor::default_generator());

  // (alpha / r) · (dropout(x) Aᵀ) Bᵀ: [*, in] -> [*, out]; undefined while merged (the update
  // is then inside W already).
  Tensor delta(const Tensor& x, autograd::Site site) override;

  // W += (alpha / r) · B A, after which the layer computes the same outputs with the adapter
  // switched off. Throws when already merged. A and B get no gradient while merged: merge for
  // inference, unmerge before training on.
  void merge();
  // W -= (alpha / r) · B A. Throws when not merged. (W comes back up to float rounding.)
  void unmerge();
  bool merged() const { return merged_; }

  double scaling() const { return alpha / double(rank); }
  // r · (in + out): the number of trainable values this adapter adds.
  std::int64_t num_adapter_parameters() const { return rank * (in_features + out_features); }

  std::string type_name() const override { return "LoRA"; }
  std::string extra_repr() const override;

  Tensor A, B;                // [r, in], [out, r]: the only trainable tensors
  std::int64_t rank;
  double alpha, dropout;
  std::int64_t in_features, out_features;

 private:
  Tensor base_weight_;        // the base layer's W [out, in] (a shared handle): merge changes it
  Generator& gen_;
  bool merged_ = false;
};

// Attaches a new LoRA adapter to `layer` (as its submodule "lora") and freezes the layer's weight
// and bias (requires_grad false). Throws when the layer already has an adapter or the config is
// out of range.
std::shared_ptr<LoRAAdapter> add_lora(nn::Linear& layer, const LoRAConfig& config,
                                      Generator& gen = tensor::default_generator());

// Every Linear of `model` with its dotted name ("layers.0.self_attn.q_proj"), in the order of
// named_parameters().
std::vector<std::pair<std::string, nn::Linear*>> named_linears(nn::Module& model);

// Attaches an adapter to each Linear of `model` that `targets` chooses, and freezes every other
// parameter of the model (as PEFT's get_peft_model does: only adapters train). `targets` is a
// list of names separated by '|': a layer is chosen when its own name (the last part of its
// dotted name, e.g. "q_proj") or its whole dotted name ("blocks.1.mlp.fc") is in the list;
// "*" chooses every Linear. Returns the chosen layers' names and their adapters. Throws, changing
// nothing, when a name in the list matches no Linear (the message lists the Linear layers there
// are) or a chosen layer already has an adapter.
std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> apply_lora(
    nn::Module& model, const std::string& targets, const LoRAConfig& config,
    Generator& gen = tensor::default_generator());

// The adapters attached anywhere in `model`, with the dotted names of their layers.
std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> lora_adapters(nn::Module& model);

// The adapters' parameters (every A and B) under their names in model.named_parameters()
// ("q_proj.lora.A"): what the optimizer gets and what save_lora writes.
nn::NamedTensors lora_parameters(nn::Module& model);
std::vector<Tensor> lora_parameter_list(nn::Module& model);  // the same, without names

// Merge or unmerge every adapter in `model` (throws, changing nothing, when one is already in
// that state).
void merge_lora(nn::Module& model);
void unmerge_lora(nn::Module& model);

// Writes the adapters alone (lora_parameters) to a safetensors file, with each adapter's rank and
// alpha in the metadata ("<layer>.rank", "<layer>.alpha") and "format": "lora". Atomic, and
// refuses non-finite values, as nn::save does.
void save_lora(nn::Module& model, const std::string& path,
               std::map<std::string, std::string> metadata = {});

// Loads adapters saved by save_lora into the model's existing adapters (apply_lora first, with
// the same targets and config). All or nothing: the file must hold exactly the model's adapter
// names with the same shapes and finite values, its ranks and alphas must be in its metadata and
// equal the model's (a different alpha
// would silently rescale the update), no adapter may be merged; otherwise one error names the
// file and every problem, and nothing changes. Returns the file's metadata.
std::map<std::string, std::string> load_lora(nn::Module& model, const std::string& path);

}  // namespace llm
