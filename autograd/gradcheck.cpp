#include "autograd/gradcheck.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "autograd/grad_mode.hpp"
#include "tensor/factory.hpp"

namespace autograd {

namespace {

std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  // Private copies: we perturb their values and collect their gradients.
  std::vector<Tensor> xs;
  for (const Tensor& input : inputs) xs.push_back(Tensor(input.data().clone(), input.requires_grad()));
  return gradcheck_leaves([&] { return f(xs); }, xs, options);
}

GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& options) {
  std::vector<Tensor> xs = leaves;
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].requires_grad() && xs[i].dtype() != DType::Float64)
      throw std::invalid_argument(
          "gradcheck: input " + std::to_string(i) + " is " + tensor::dtype_name(xs[i].dtype()) +
          "; use float64 (.to(DType::Float64)): finite differences in float32 lose too many "
          "digits to tell a bug from rounding");
  Tensor output = f();
  const std::int64_t out_numel = output.numel();
  const Shape out_shape = output.shape();

  // Analytical Jacobian, one row per output element: backward with a one-hot gradient.
  // analytical[i][j * n_i + k] = d out_j / d x_i[k]
  std::vector<std::vector<double>> analytical(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (xs[i].requires_grad()) analytical[i].assign(out_numel * xs[i].numel(), 0.0);
  if (output.requires_grad()) {
    for (std::int64_t j = 0; j < out_numel; ++j) {
      for (Tensor& x : xs) x.zero_grad();
      Array one_hot = tensor::zeros(out_shape, output.dtype(), output.device());
      one_hot.set(unravel(j, out_shape), 1.0);
      output.backward(Tensor(one_hot), /*retain_graph=*/true);
      for (std::size_t i = 0; i < xs.size(); ++i) {
        if (!xs[i].requires_grad() || !xs[i].grad().defined()) continue;
        std::vector<double> g = xs[i].grad().to_vector<double>();
        for (std::size_t k = 0; k < g.size(); ++k) analytical[i][j * g.size() + k] = g[k];
      }
    }
  }

  for (Tensor& x : xs) x.zero_grad();

  // Numerical Jacobian, one column per input element, and the comparison.
  GradcheckResult result;
  double worst_excess = -1;  // error / tolerance of the worst element so far
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].requires_grad()) continue;
    Array values = xs[i].data();
    const std::int64_t n = values.numel();
    for (std::int64_t k = 0; k < n; ++k) {
      std::vector<std::int64_t> index = unravel(k, values.shape());
      double original = values.at(index);
      values.set(index, original + options.eps);
      std::vector<double> plus = f().to_vector<double>();
      values.set(index, original - options.eps);
      std::vector<double> minus = f().to_vector<double>();
      values.set(index, original);
      for (std::int64_t j = 0; j < out_numel; ++j) {
        double numerical = (plus[j] - minus[j]) / (2 * options.eps);
        double analytic = analytical[i][j * n + k];
        double error = std::fabs(analytic - numerical);
        double tolerance = options.atol + options.rtol * std::fabs(numerical);
        double excess = std::isnan(error) ? INFINITY : error / tolerance;
        ++result.elements_checked;
        if (excess > worst_excess) {
          worst_excess = excess;
          result.input = i;
          result.index = index;
          result.output_index = j;
          result.analytical = analytic;
          result.numerical = numerical;
          result.abs_error = error;
        }
      }
    }
  }
  result.passed = worst_excess <= 1.0;

  std::ostringstream text;
  text.precision(10);
  if (result.elements_checked == 0) {
    text << "gradcheck: nothing to check (no input requires grad)";
  } else {
    text << "gradcheck " << (result.passed ? "passed" : "FAILED") << ": worst element d out["
         << result.output_index << "] / d input " << result.input << tensor::shape_str(result.index)
         << ": analytical " << result.analytical << " vs numerical " << result.numerical
         << " (abs error " << result.abs_error << ", tolerance " << options.atol << " + "
         << options.rtol << " * |numerical|), " << result.elements_checked
         << " Jacobian entries checked";
    if (!result.passed && output.grad_fn())
      text << ". The output was made by '" << output.grad_fn()->op << "' created at "
           << output.grad_fn()->site_str();
  }
  result.message = text.str();
  return result;
}

}  // namespace autograd
