#include "llm/lora.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.hpp"
#include "nn/init.hpp"
#include "tensor/finite.hpp"
#include "tensor/ops.hpp"
#include "tensor/safetensors.hpp"

namespace llm {

namespace {

void lora_check_config(const LoRAConfig& config, const std::string& op) {
  if (config.rank < 1)
    throw std::invalid_argument(op + ": rank must be at least 1, got " + std::to_string(config.rank));
  if (!std::isfinite(config.alpha) || config.alpha <= 0)
    throw std::invalid_argument(op + ": alpha must be a positive number, got " +
                                std::to_string(config.alpha));
  if (!(config.dropout >= 0 && config.dropout < 1))
    throw std::invalid_argument(op + ": dropout must be in [0, 1), got " +
                                std::to_string(config.dropout));
}

// Writes a double so that std::stod reads back the same value.
std::string lora_number_text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

// ---- one adapter ---------------------------------------------------------------------------------

LoRAAdapter::LoRAAdapter(const nn::Linear& base, const LoRAConfig& config, Generator& gen)
    : rank(config.rank),
      alpha(config.alpha),
      dropout(config.dropout),
      in_features(base.in_features),
      out_features(base.out_features),
      base_weight_(base.weight),
      gen_(gen) {
  lora_check_config(config, "LoRAAdapter");
  const tensor::DType dtype = base.weight.dtype();
  const tensor::Device device = base.weight.device();
  // A as PEFT initialises it: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)).
  // B = 0, so B A = 0 and the adapted layer starts as exactly the pretrained one; training moves
  // B first (its gradient is (scaling · x Aᵀ)ᵀ dy, not zero), then A follows.
  A = register_parameter("A", autograd::zeros({rank, in_features}, dtype));
  nn::init::kaiming_uniform_(A, gen, std::sqrt(5.0));
  B = register_parameter("B", autograd::zeros({out_features, rank}, dtype));
  if (device != tensor::kCPU) to(device);
}

Tensor LoRAAdapter::delta(const Tensor& x, autograd::Site site) {
  if (merged_) return Tensor();  // the update is already inside W
  // Two thin matmuls instead of one [out, in] matrix B A: (x Aᵀ) costs r · in per row and
  // (· Bᵀ) r · out, far less than in · out when r is small.
  Tensor dropped = autograd::dropout(x, dropout, is_training(), gen_, site);  // [*, in]
  Tensor down = autograd::matmul(dropped, A.transpose(0, 1, site), site);    // [*, r]
  Tensor up = autograd::matmul(down, B.transpose(0, 1, site), site);         // [*, out]
  return autograd::mul(up, autograd::scalar_like(up, scaling()), site);
}

void LoRAAdapter::merge() {
  if (merged_)
    throw std::logic_error("LoRAAdapter::merge: already merged (W already holds (alpha/r) B A; "
                           "merging again would add it twice); call unmerge() first");
  // W [out, in] += scaling · B [out, r] A [r, in]. The base weight is frozen and this is not a
  // step of training, so it changes the values directly, recording no graph.
  autograd::NoGradGuard no_grad;
  base_weight_.data().add_(tensor::matmul(B.data(), A.data()), scaling());
  merged_ = true;
}

void LoRAAdapter::unmerge() {
  if (!merged_)
    throw std::logic_error("LoRAAdapter::unmerge: not merged (W does not hold (alpha/r) B A); "
                           "nothing to take out");
  autograd::NoGradGuard no_grad;
  base_weight_.data().add_(tensor::matmul(B.data(), A.data()), -scaling());
  merged_ = false;
}

std::string LoRAAdapter::extra_repr() const {
  return "r=" + std::to_string(rank) + ", alpha=" + lora_number_text(alpha) +
         ", scaling=" + lora_number_text(scaling()) + (merged_ ? ", merged" : "");
}

std::shared_ptr<LoRAAdapter> add_lora(nn::Linear& layer, const LoRAConfig& config, Generator& gen) {
  lora_check_config(config, "add_lora");
  if (layer.adapter)
    throw std::invalid_argument("add_lora: this Linear already has an adapter (" +
                                layer.adapter->type_name() + ")");
  auto adapter = std::make_shared<LoRAAdapter>(layer, config, gen);
  layer.attach_adapter("lora", adapter);
  layer.weight.requires_grad_(false);
  if (layer.bias.defined()) layer.bias.requires_grad_(false);
  return adapter;
}

// ---- a whole model ----------------------------------------------------------------------------

namespace {

// Calls visit(dotted name, module) for `module` and everything below it, parents first.
template <typename Visit>
void lora_walk(nn::Module& module, const std::string& name, Visit& visit) {
  visit(name, module);
  for (const auto& [child_name, child] : module.children())
    lora_walk(*child, name.empty() ? child_name : name + "." + child_name, visit);
}

std::vector<std::string> lora_split_targets(const std::string& targets) {
  std::vector<std::string> names;
  std::string current;
  for (char c : targets + "|") {
    if (c != '|') {
      current += c;
      continue;
    }
    if (current.empty())
      throw std::invalid_argument("apply_lora: empty name in targets '" + targets +
                                  "' (expected names separated by '|', e.g. \"q_proj|v_proj\", "
                                  "or \"*\")");
    names.push_back(current);
    current.clear();
  }
  return names;
}

std::string lora_last_part(const std::string& dotted) {
  std::size_t dot = dotted.rfind('.');
  return dot == std::string::npos ? dotted : dotted.substr(dot + 1);
}

}  // namespace

std::vector<std::pair<std::string, nn::Linear*>> named_linears(nn::Module& model) {
  std::vector<std::pair<std::string, nn::Linear*>> linears;
  auto visit = [&](const std::string& name, nn::Module& module) {
    if (auto* linear = dynamic_cast<nn::Linear*>(&module)) linears.emplace_back(name, linear);
  };
  lora_walk(model, "", visit);
  return linears;
}

std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> apply_lora(
    nn::Module& model, const std::string& targets, const LoRAConfig& config, Generator& gen) {
  lora_check_config(config, "apply_lora");
  const std::vector<std::string> wanted = lora_split_targets(targets);
  const bool all = wanted.size() == 1 && wanted[0] == "*";
  const auto linears = named_linears(model);

  // Choose first, attach afterwards: nothing changes when the targets are wrong.
  std::vector<std::pair<std::string, nn::Linear*>> chosen;
  std::vector<bool> used(wanted.size(), false);
  for (const auto& [name, linear] : linears) {
    bool pick = all;
    for (std::size_t i = 0; i < wanted.size(); ++i)
      if (wanted[i] == name || wanted[i] == lora_last_part(name)) pick = used[i] = true;
    if (!pick) continue;
    if (linear->adapter)
      throw std::invalid_argument("apply_lora: layer '" + name + "' already has an adapter");
    chosen.emplace_back(name, linear);
  }
  std::string list;
  for (const auto& [name, linear] : linears) list += (list.empty() ? "" : ", ") + name;
  if (!all)
    for (std::size_t i = 0; i < wanted.size(); ++i)
      if (!used[i])
        throw std::invalid_argument("apply_lora: no Linear layer is named '" + wanted[i] +
                                    "'; the Linear layers are: " +
                                    (list.empty() ? std::string("none") : list));
  if (chosen.empty())
    throw std::invalid_argument("apply_lora: the model has no Linear layer to adapt");

  // Only adapters train: freeze everything that is already there, then attach.
  for (auto& [name, parameter] : model.named_parameters()) parameter.requires_grad_(false);
  std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> attached;
  for (const auto& [name, linear] : chosen) {
    auto adapter = add_lora(*linear, config, gen);
    // Graph tools show a parameter by its name; a module registered late gets only its own
    // prefix, so give A and B their full dotted names here.
    adapter->A.set_name(name + ".lora.A");
    adapter->B.set_name(name + ".lora.B");
    attached.emplace_back(name, adapter);
  }
  return attached;
}

std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> lora_adapters(nn::Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<LoRAAdapter>>> adapters;
  for (const auto& [name, linear] : named_linears(model))
    if (auto lora = std::dynamic_pointer_cast<LoRAAdapter>(linear->adapter))
      adapters.emplace_back(name, lora);
  return adapters;
}

nn::NamedTensors lora_parameters(nn::Module& model) {
  nn::NamedTensors parameters;
  for (const auto& [name, adapter] : lora_adapters(model)) {
    const std::string prefix = name.empty() ? "lora." : name + ".lora.";
    parameters.emplace_back(prefix + "A", adapter->A);
    parameters.emplace_back(prefix + "B", adapter->B);
  }
  return parameters;
}

std::vector<Tensor> lora_parameter_list(nn::Module& model) {
  std::vector<Tensor> list;
  for (auto& [name, parameter] : lora_parameters(model)) list.push_back(parameter);
  return list;
}

void merge_lora(nn::Module& model) {
  auto adapters = lora_adapters(model);
  for (const auto& [name, adapter] : adapters)
    if (adapter->merged()) throw std::logic_error("merge_lora: the adapter of '" + name + "' is already merged");
  for (const auto& [name, adapter] : adapters) adapter->merge();
}

void unmerge_lora(nn::Module& model) {
  auto adapters = lora_adapters(model);
  for (const auto& [name, adapter] : adapters)
    if (!adapter->merged()) throw std::logic_error("unmerge_lora: the adapter of '" + name + "' is not merged");
  for (const auto& [name, adapter] : adapters) adapter->unmerge();
}

// ---- adapters on disk -------------------------------------------------------------------------

void save_lora(nn::Module& model, const std::string& path, std::map<std::string, std::string> metadata) {
  const auto adapters = lora_adapters(model);
  if (adapters.empty())
    throw std::invalid_argument("save_lora: " + path + ": the model has no LoRA adapter to save");
  tensor::NamedArrays arrays;
  for (const auto& [name, parameter] : lora_parameters(model)) {
    if (tensor::NonFinite bad = tensor::find_non_finite(parameter.data()); bad.any())
      throw std::runtime_error("save_lora: " + path + ": '" + name + "' has " +
                               tensor::describe_non_finite(bad) +
                               "; nothing written (training diverged? save only finite adapters)");
    arrays.emplace_back(name, parameter.data());
  }
  for (const auto& [name, adapter] : adapters) {
    metadata[name + ".rank"] = std::to_string(adapter->rank);
    metadata[name + ".alpha"] = lora_number_text(adapter->alpha);
  }
  metadata["format"] = "lora";
  tensor::save_safetensors(path, arrays, metadata);
}

std::map<std::string, std::string> load_lora(nn::Module& model, const std::string& path) {
  const auto adapters = lora_adapters(model);
  if (adapters.empty())
    throw std::invalid_argument("load_lora: " + path +
                                ": the model has no LoRA adapter to load into (apply_lora first)");
  tensor::SafetensorsFile file = tensor::load_safetensors(path);  // throws on a malformed file

  std::vector<std::string> problems;
  auto meta = [&](const std::string& key) -> const std::string* {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? nullptr : &it->second;
  };
  if (const std::string* format = meta("format"); format == nullptr || *format != "lora")
    problems.push_back("it is not a LoRA adapter file (metadata \"format\" is " +
                       (format ? "\"" + *format + "\"" : std::string("missing")) +
                       ", expected \"lora\"; was it written by save_lora?)");
  for (const auto& [name, adapter] : adapters) {
    if (adapter->merged()) problems.push_back("the adapter of '" + name + "' is merged (unmerge first)");
    // Both must be there: without its alpha the file's B A would be scaled by the model's
    // alpha / r, which may not be the one it was trained with (a silently different update).
    const std::string* rank = meta(name + ".rank");
    if (rank == nullptr) problems.push_back("no rank for '" + name + "' in the metadata");
    else if (*rank != std::to_string(adapter->rank))
      problems.push_back("'" + name + "' has rank " + *rank + " in the file, " +
                         std::to_string(adapter->rank) + " in the model");
    const std::string* alpha = meta(name + ".alpha");
    if (alpha == nullptr) problems.push_back("no alpha for '" + name + "' in the metadata");
    else if (*alpha != lora_number_text(adapter->alpha))
      problems.push_back("'" + name + "' has alpha " + *alpha + " in the file, " +
                         lora_number_text(adapter->alpha) + " in the model");
  }

  const nn::NamedTensors expected = lora_parameters(model);
  std::map<std::string, const tensor::Array*> in_file;
  for (const auto& [name, array] : file.tensors) in_file[name] = &array;
  for (const auto& [name, parameter] : expected) {
    auto it = in_file.find(name);
    if (it == in_file.end()) {
      problems.push_back("missing '" + name + "'");
      continue;
    }
    const tensor::Array& array = *it->second;
    if (array.shape() != parameter.shape() || array.dtype() != parameter.dtype())
      problems.push_back("'" + name + "' is " + tensor::dtype_name(array.dtype()) + " " +
                         tensor::shape_str(array.shape()) + " in the file, " +
                         tensor::dtype_name(parameter.dtype()) + " " +
                         tensor::shape_str(parameter.shape()) + " in the model");
    else if (tensor::NonFinite bad = tensor::find_non_finite(array); bad.any())
      problems.push_back("'" + name + "' has " + tensor::describe_non_finite(bad));
    in_file.erase(it);
  }
  for (const auto& [name, array] : in_file) problems.push_back("unexpected '" + name + "'");

  if (!problems.empty()) {
    std::string message = "load_lora: " + path + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    throw std::runtime_error(message + "; nothing loaded");
  }
  std::map<std::string, const tensor::Array*> by_name;
  for (const auto& [name, array] : file.tensors) by_name[name] = &array;
  for (const auto& [name, parameter] : expected) parameter.data().copy_(*by_name.at(name));
  return file.metadata;
}

}  // namespace llm
