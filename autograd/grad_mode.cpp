// grad_mode.cpp — the switch that grad_mode.hpp declares: one flag per thread, on by default.
#include "autograd/grad_mode.hpp"

namespace autograd {

namespace {
// Per thread, like PyTorch's: a NoGradGuard in one thread never stops another from recording.
thread_local bool grad_enabled = true;
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }

}  // namespace autograd
