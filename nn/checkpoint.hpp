// checkpoint.hpp — saving and loading models and training state (model + optimizer).
//
// The file format is safetensors (see tensor/safetensors.hpp): tensors under their dotted
// parameter names, so weights move to and from PyTorch by name.
//
// Saving is atomic: the file is written to "<path>.tmp.<pid>", flushed to the disk, and renamed
// over <path>, so an interrupted save leaves the previous checkpoint intact (and the next save
// removes the temporary a killed one left). Weights or optimizer state holding NaN or inf are
// never saved: the last good checkpoint survives a diverged run. Loading a model is all or
// nothing: every missing, unexpected or mismatched name is listed in one error, and no parameter
// is touched unless all of them match.
#pragma once

#include <map>
#include <string>

#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "tensor/safetensors.hpp"

namespace nn {

// The safetensors files themselves live in tensor/ (they need no autograd); checkpoint code and
// its users reach them as nn:: names too.
using tensor::load_safetensors;
using tensor::parse_safetensors;
using tensor::save_safetensors;
using tensor::SafetensorsFile;

// ---- models ------------------------------------------------------------------------------------

// Saves the module's parameters and buffers under their dotted names (named_parameters(),
// named_buffers()), with optional metadata (e.g. {"step", "100"}). Refuses (throws, writing
// nothing, so the previous file stays) when any value is NaN or infinite: a diverged model never
// replaces a good checkpoint.
void save(const Module& module, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});

// Loads values saved by save() (or by PyTorch under the same names) into the module's existing
// parameters and buffers, in place (param.data().copy_(...)), so optimizers holding them stay
// valid and a model on another device stays there. Strict: the file must hold exactly the
// module's names with the same shapes and dtypes; otherwise one error lists every missing,
// unexpected and mismatched name and nothing is changed. Returns the file's metadata.
std::map<std::string, std::string> load(Module& module, const std::string& path);

// ---- training checkpoints: model + optimizer ---------------------------------------------------

// Saves the model as save() does plus, when `optimizer` is not null, its state() under the
// prefix "optimizer." ("optimizer.steps", "optimizer.0.exp_avg", ...). Like save(), refuses
// non-finite weights or optimizer state, naming the first such tensor and where its first NaN is.
void save_checkpoint(const std::string& path, const Module& module, const Optimizer* optimizer,
                     std::map<std::string, std::string> metadata = {});

// Restores the model (strictly, as load()) and, when `optimizer` is not null, the optimizer's
// state (its moments and step count), checked against the optimizer's parameters before anything
// is changed: each moment finite and shaped like its parameter, the step count a non-negative
// integer. With a null optimizer the "optimizer." entries are ignored: that loads just the
// weights of a training checkpoint. The learning rate is not stored: after resuming, a schedule
// continues with scheduler.set_steps(optimizer.steps_taken()). Returns the file's metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module,
                                                   Optimizer* optimizer);

// ---- a checkpoint's metadata, read back with checks ---------------------------------------------

// Metadata values are strings; a resumed run needs numbers, in range. Each accessor throws
// std::runtime_error naming the file and the key, e.g.
//   load_checkpoint: out/checkpoint.safetensors: metadata "step" is "-5", expected an integer in
//   0..400 (the run's steps)
// so a tutorial never hand-rolls stoll/stod (which name neither, and accept "12abc").
class CheckpointMetadata {
 public:
  CheckpointMetadata(std::map<std::string, std::string> values, std::string path);

  // The value as written; throws when the key is missing.
  const std::string& text(const std::string& key) const;
  // A decimal integer in [min, max]; `why_max` says where max comes from ("the run's steps").
  std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max,
                       const std::string& why_max = "") const;
  // A decimal integer in 0..2^64-1 (a random generator's offset).
  std::uint64_t unsigned_integer(const std::string& key) const;
  // A finite number in [min, max].
  double number(const std::string& key, double min, double max) const;
  // "1.5,2,3" (as a list is written by join_numbers): finite numbers; "" is an empty list.
  std::vector<double> numbers(const std::string& key) const;

  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& path() const { return path_; }

  // Throws the message above for `key`, with `problem` after the key ("has 3 values, expected
  // 4"); for checks the accessors cannot make alone (two keys that must agree).
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  std::map<std::string, std::string> values_;
  std::string path_;
};

// Numbers written so that numbers() reads them back exactly: "0.5,1e-09,2".
std::string join_numbers(const std::vector<double>& values);

}  // namespace nn
