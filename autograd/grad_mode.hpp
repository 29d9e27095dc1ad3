// grad_mode.hpp — switching graph recording off (evaluation, optimizer steps) and back on.
#pragma once

namespace autograd {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// While a NoGradGuard lives, ops record no graph (like `with torch.no_grad():`).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace autograd
