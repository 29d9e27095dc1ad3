// legacy_flags.hpp — TEMPORARY: the old CLI11-in-every-program flags, kept only while the
// tutorials move to tutorial::Flags (tutorial.hpp). Each tutorial drops this include when it
// moves; then this file is deleted.
#pragma once

#include <CLI/CLI.hpp>
#include <omp.h>

#include <filesystem>

#include "tutorials/common/tutorial.hpp"

namespace tutorial {

inline void add_common_flags(CLI::App& app, Options& options, bool with_device = false) {
  if (options.out.empty()) options.out = "out";
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--out", options.out, "directory for pictures and files")->capture_default_str();
  app.add_flag("--quick", options.quick, "a short run (a few seconds), as CI does");
  app.add_option("--threads", options.threads, "CPU threads (0 = one per core)")
      ->capture_default_str();
  if (with_device)
    app.add_option("--device", options.device, "cpu, cuda or cuda-sim")->capture_default_str();
}

inline void apply(const Options& options) {
  if (options.threads > 0) omp_set_num_threads(options.threads);
  std::filesystem::create_directories(options.out);
}

}  // namespace tutorial
