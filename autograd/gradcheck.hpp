// gradcheck.hpp — is the backward pass right? Compare it with finite differences.
//
// For f: inputs -> output, the analytical Jacobian comes from backward() (one pass per output
// element) and the numerical one from central differences
//     d out_j / d x_k  ~  (f(x + eps e_k)_j - f(x - eps e_k)_j) / (2 eps),
// whose error is O(eps^2). In float64 with eps = 1e-6 the two agree to ~1e-8 for a correct
// backward, so a real bug (a missing factor, a wrong transpose) stands out by many orders of
// magnitude. float32 would blur that line, which is why gradcheck insists on float64.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace autograd {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // an element passes when |analytical - numerical| <= atol + rtol*|numerical|
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool passed = true;
  // The worst element (largest error relative to its tolerance):
  std::size_t input = 0;              // which input
  std::vector<std::int64_t> index;    // where in that input
  std::int64_t output_index = 0;      // which output element (row-major)
  double analytical = 0, numerical = 0, abs_error = 0;
  std::int64_t elements_checked = 0;
  std::string message;  // a sentence a person can read, pass or fail
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every input that requires grad (all must be float64). Inputs are copied, so the
// caller's tensors and their .grad() are left untouched.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The same check for a computation that reads the given leaves itself, such as a module's
// parameters: f() is called with no arguments while each leaf is perturbed in place (and put
// back). The leaves' .grad() are cleared by the check. All leaves must be float64.
GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& options = {});

}  // namespace autograd
