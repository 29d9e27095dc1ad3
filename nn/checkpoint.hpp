// checkpoint.hpp — saving and loading models and training state (model + optimizer).
//
// The file format is safetensors (see safetensors.hpp): tensors under their dotted parameter
// names, so weights move to and from PyTorch by name.
//
// Saving is atomic: the file is written to "<path>.tmp.<pid>", flushed to the disk, and renamed
// over <path>, so an interrupted save leaves the previous checkpoint intact. Loading a model is
// all or nothing: every missing, unexpected or mismatched name is listed in one error, and no
// parameter is touched unless all of them match.
#pragma once

#include <map>
#include <string>

#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"

namespace nn {

// ---- models ------------------------------------------------------------------------------------

// Saves the module's parameters and buffers under their dotted names (named_parameters(),
// named_buffers()), with optional metadata (e.g. {"step", "100"}).
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
// prefix "optimizer." ("optimizer.steps", "optimizer.0.exp_avg", ...).
void save_checkpoint(const std::string& path, const Module& module, const Optimizer* optimizer,
                     std::map<std::string, std::string> metadata = {});

// Restores the model (strictly, as load()) and, when `optimizer` is not null, the optimizer's
// state (its moments and step count), checked against the optimizer's parameters before anything
// is changed. With a null optimizer the "optimizer." entries are ignored: that loads just the
// weights of a training checkpoint. The learning rate is not stored: after resuming, a schedule
// continues with scheduler.set_steps(optimizer.steps_taken()). Returns the file's metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module,
                                                   Optimizer* optimizer);

}  // namespace nn
