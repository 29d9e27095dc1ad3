// checkpoint.cpp — model and optimizer checkpoints, on top of the safetensors files of
// safetensors.cpp: what to save under which name, and a strict, all-or-nothing load.
#include "nn/checkpoint.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <stdexcept>

#include "tensor/finite.hpp"

namespace nn {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// ---- models -------------------------------------------------------------------------------------

// The module's parameters, then its buffers, by dotted name.
NamedTensors model_tensors(const Module& module) {
  NamedTensors all = module.named_parameters();
  for (auto& entry : module.named_buffers()) all.push_back(entry);
  return all;
}

NamedArrays model_arrays(const Module& module) {
  NamedArrays arrays;
  for (const auto& [name, tensor] : model_tensors(module)) arrays.emplace_back(name, tensor.data());
  return arrays;
}

// What loading would do, worked out before anything is changed: the copies to make, or the
// problems that forbid them.
struct LoadPlan {
  std::vector<std::string> missing, unexpected, mismatched, optimizer_problems;
  std::vector<std::pair<Tensor, Array>> copies;  // (parameter, value from the file)
  NamedArrays optimizer_state;

  bool ok() const {
    return missing.empty() && unexpected.empty() && mismatched.empty() &&
           optimizer_problems.empty();
  }

  // "load: m.safetensors: the file does not match the model:\n  missing ...\n  ..."
  std::string message(const std::string& op, const std::string& path) const {
    std::string text =
        op + ": " + path + ": the file does not match the model, nothing was loaded:";
    if (!missing.empty()) text += "\n  missing (in the model, not in the file): " + join(missing);
    if (!unexpected.empty()) {
      text += "\n  unexpected (in the file, not in the model): " + join(unexpected);
      for (const std::string& name : unexpected)
        if (name.rfind(kOptimizerPrefix, 0) == 0) {
          text +=
              "\n  (this is a training checkpoint: load_checkpoint(path, model, nullptr) loads "
              "just its weights)";
          break;
        }
    }
    for (const std::string& line : mismatched) text += "\n  " + line;
    for (const std::string& line : optimizer_problems) text += "\n  optimizer: " + line;
    return text;
  }
};

// Matches the module's tensors with the file's (entries named "optimizer.*" are left out when
// `skip_optimizer` is set).
void plan_model(const Module& module, const NamedArrays& file, bool skip_optimizer,
                LoadPlan& plan) {
  std::map<std::string, const Array*> in_file;
  for (const auto& [name, array] : file)
    if (!(skip_optimizer && name.rfind(kOptimizerPrefix, 0) == 0)) in_file[name] = &array;
  std::set<std::string> in_model;
  for (const auto& [name, tensor] : model_tensors(module)) {
    in_model.insert(name);
    auto found = in_file.find(name);
    if (found == in_file.end()) {
      plan.missing.push_back(name);
      continue;
    }
    const Array& value = *found->second;
    if (value.shape() != tensor.shape())
      plan.mismatched.push_back(name + ": shape " + tensor::shape_str(value.shape()) +
                                " in the file, " + tensor::shape_str(tensor.shape()) +
                                " in the model");
    else if (value.dtype() != tensor.dtype())
      plan.mismatched.push_back(name + ": dtype " + dtype_name(value.dtype()) + " in the file, " +
                                dtype_name(tensor.dtype()) +
                                " in the model (convert the model with .to(DType))");
    else
      plan.copies.emplace_back(tensor, value);
  }
  for (const auto& [name, array] : in_file)
    if (!in_model.count(name)) plan.unexpected.push_back(name);
}

// Checks the file's "optimizer.*" entries against the optimizer as Optimizer::load_state will use
// them: "steps" (one number) and "<param index>.<slot>" arrays shaped like their parameter.
void plan_optimizer(const Optimizer& optimizer, const NamedArrays& file, LoadPlan& plan) {
  const std::string prefix = kOptimizerPrefix;
  bool has_steps = false;
  for (const auto& [name, array] : file) {
    if (name.rfind(prefix, 0) != 0) continue;
    std::string key = name.substr(prefix.size());
    if (key == "steps") {
      has_steps = true;
      if (std::string problem = Optimizer::step_count_problem(array); !problem.empty())
        plan.optimizer_problems.push_back("'" + name + "' " + problem);
      else
        plan.optimizer_state.emplace_back(key, array);
      continue;
    }
    std::size_t dot = key.find('.');
    std::string index_text = key.substr(0, dot);
    bool well_formed = dot != std::string::npos && dot > 0 && dot < 10 && dot + 1 < key.size() &&
                       std::all_of(index_text.begin(), index_text.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
    if (!well_formed) {
      plan.optimizer_problems.push_back("'" + name +
                                        "' is not of the form optimizer.<param index>.<name>");
      continue;
    }
    std::size_t index = std::stoul(index_text);
    const auto& params = optimizer.params();
    if (index >= params.size())
      plan.optimizer_problems.push_back("'" + name + "' belongs to parameter " + index_text +
                                        " but the optimizer has " + std::to_string(params.size()) +
                                        " parameters");
    else if (array.shape() != params[index].shape())
      plan.optimizer_problems.push_back(
          "'" + name + "' has shape " + tensor::shape_str(array.shape()) + " but parameter " +
          index_text + " has shape " + tensor::shape_str(params[index].shape()));
    else if (tensor::NonFinite bad = tensor::find_non_finite(array); bad.any())
      plan.optimizer_problems.push_back("'" + name + "' has " + tensor::describe_non_finite(bad) +
                                        " (saved from a diverged run?)");
    else
      plan.optimizer_state.emplace_back(key, array);
  }
  if (!has_steps)
    plan.optimizer_problems.push_back(
        "the file holds no optimizer state ('optimizer.steps' is missing: "
        "was it written by save() rather than save_checkpoint()?)");
}

void apply_copies(const LoadPlan& plan) {
  for (const auto& [tensor, value] : plan.copies) tensor.data().copy_(value);
}

// Throws when any array is NaN or infinite anywhere, before a byte is written: the previous
// file at `path` stays as it was.
void refuse_non_finite(const std::string& op, const std::string& path, const NamedArrays& arrays) {
  for (const auto& [name, array] : arrays)
    if (tensor::NonFinite bad = tensor::find_non_finite(array); bad.any())
      throw std::runtime_error(op + ": " + path + ": '" + name + "' has " +
                               tensor::describe_non_finite(bad) +
                               "; nothing was written, the previous file is unchanged (the "
                               "training diverged? save only from a finite model)");
}

}  // namespace

void save(const Module& module, const std::string& path,
          const std::map<std::string, std::string>& metadata) {
  NamedArrays arrays = model_arrays(module);
  refuse_non_finite("save", path, arrays);
  save_safetensors(path, arrays, metadata);
}

std::map<std::string, std::string> load(Module& module, const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  LoadPlan plan;
  plan_model(module, file.tensors, false, plan);
  if (!plan.ok()) throw std::runtime_error(plan.message("load", path));
  apply_copies(plan);
  return file.metadata;
}

void save_checkpoint(const std::string& path, const Module& module, const Optimizer* optimizer,
                     std::map<std::string, std::string> metadata) {
  NamedArrays arrays = model_arrays(module);
  for (const auto& [name, array] : arrays)
    if (name.rfind(kOptimizerPrefix, 0) == 0)
      throw std::invalid_argument(
          "save_checkpoint: " + path + ": the model has a tensor named '" + name +
          "', but the prefix 'optimizer.' is reserved for the optimizer's state");
  if (optimizer)
    for (const auto& [name, array] : optimizer->state())
      arrays.emplace_back(kOptimizerPrefix + name, array);
  refuse_non_finite("save_checkpoint", path, arrays);
  save_safetensors(path, arrays, metadata);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module,
                                                   Optimizer* optimizer) {
  SafetensorsFile file = load_safetensors(path);
  LoadPlan plan;
  plan_model(module, file.tensors, true, plan);
  if (optimizer) plan_optimizer(*optimizer, file.tensors, plan);
  if (!plan.ok()) throw std::runtime_error(plan.message("load_checkpoint", path));
  apply_copies(plan);
  if (optimizer) optimizer->load_state(plan.optimizer_state);
  return file.metadata;
}

// ---- metadata ----------------------------------------------------------------------------------

CheckpointMetadata::CheckpointMetadata(std::map<std::string, std::string> values, std::string path)
    : values_(std::move(values)), path_(std::move(path)) {}

void CheckpointMetadata::fail(const std::string& key, const std::string& problem) const {
  throw std::runtime_error("load_checkpoint: " + path_ + ": metadata \"" + key + "\" " + problem);
}

const std::string& CheckpointMetadata::text(const std::string& key) const {
  auto found = values_.find(key);
  if (found == values_.end())
    fail(key, "is missing (the file was not written by this program, or by an older version)");
  return found->second;
}

namespace {

// The value as shown in a message: quoted, long ones cut.
std::string quoted(const std::string& value) {
  return "\"" + (value.size() > 40 ? value.substr(0, 40) + "..." : value) + "\"";
}

// Parses all of `text` as T with from_chars (no spaces, no "0x", no trailing junk).
template <typename T>
bool parse_all(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

}  // namespace

std::int64_t CheckpointMetadata::integer(const std::string& key, std::int64_t min,
                                         std::int64_t max, const std::string& why_max) const {
  const std::string& value = text(key);
  std::int64_t parsed = 0;
  if (!parse_all(value, parsed) || parsed < min || parsed > max)
    fail(key, "is " + quoted(value) + ", expected an integer in " + std::to_string(min) + ".." +
                  std::to_string(max) + (why_max.empty() ? "" : " (" + why_max + ")"));
  return parsed;
}

std::uint64_t CheckpointMetadata::unsigned_integer(const std::string& key) const {
  const std::string& value = text(key);
  std::uint64_t parsed = 0;
  if (!parse_all(value, parsed))
    fail(key, "is " + quoted(value) + ", expected a non-negative integer below 2^64");
  return parsed;
}

double CheckpointMetadata::number(const std::string& key, double min, double max) const {
  const std::string& value = text(key);
  double parsed = 0;
  if (!parse_all(value, parsed) || !std::isfinite(parsed) || parsed < min || parsed > max) {
    char range[80];
    std::snprintf(range, sizeof range, "%g..%g", min, max);
    fail(key, "is " + quoted(value) + ", expected a finite number in " + range);
  }
  return parsed;
}

std::vector<double> CheckpointMetadata::numbers(const std::string& key) const {
  const std::string& value = text(key);
  std::vector<double> parsed;
  if (value.empty()) return parsed;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    double number = 0;
    if (!parse_all(item, number) || !std::isfinite(number))
      fail(key, "holds " + quoted(item) + " at position " + std::to_string(parsed.size()) +
                    ", expected finite numbers separated by commas");
    parsed.push_back(number);
    if (comma == std::string::npos) return parsed;
    start = comma + 1;
  }
}

std::string join_numbers(const std::vector<double>& values) {
  std::string text;
  char number[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::snprintf(number, sizeof number, "%.17g", values[i]);  // 17 digits: read back exactly
    text += (i ? "," : "") + std::string(number);
  }
  return text;
}

}  // namespace nn
