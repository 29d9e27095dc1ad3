#include "autograd/tensor.hpp"

#include <ostream>
#include <stdexcept>

#include "autograd/ops.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"
#include "tensor/random.hpp"

namespace autograd {

Tensor::Tensor(Array data, bool requires_grad) : impl_(std::make_shared<TensorImpl>()) {
  impl_->data = std::move(data);
  if (requires_grad) requires_grad_(true);
}

const Array& Tensor::data() const {
  if (!impl_) throw std::logic_error("Tensor: use of an undefined tensor");
  return impl_->data;
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  if (!impl_) throw std::logic_error("requires_grad_: undefined tensor");
  if (impl_->grad_fn && !on)
    throw std::invalid_argument(
        "requires_grad_: this tensor was computed by '" + impl_->grad_fn->op +
        "'; only leaves can change requires_grad. Use detach() for a copy cut from the graph");
  if (on && !tensor::is_floating(dtype()))
    throw std::invalid_argument("requires_grad_: only float tensors can require gradients, this "
                                "one is " + tensor::dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !impl_ || !impl_->grad_fn; }

Tensor Tensor::grad() const {
  if (!impl_ || !impl_->grad.defined()) return Tensor();
  return Tensor(impl_->grad);
}

void Tensor::set_grad(const Array& grad) {
  if (grad.defined() && grad.shape() != shape())
    throw std::invalid_argument("set_grad: gradient shape " + tensor::shape_str(grad.shape()) +
                                " does not match tensor shape " + tensor::shape_str(shape()));
  impl_->grad = grad;
}

void Tensor::set_data(const Array& data) {
  if (!impl_) throw std::logic_error("set_data: undefined tensor");
  if (impl_->grad_fn)
    throw std::invalid_argument("set_data: only leaves can have their data replaced; this "
                                "tensor was computed by '" + impl_->grad_fn->op + "'");
  impl_->data = data;
  impl_->grad = Array();
}

void Tensor::zero_grad() {
  if (impl_) impl_->grad = Array();
}

void Tensor::retain_grad() {
  if (!requires_grad())
    throw std::invalid_argument("retain_grad: the tensor does not require grad");
  if (is_leaf() || impl_->retains_grad) return;  // leaves always keep their gradient
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  impl_->grad_fn->hooks.push_back([weak](Array& grad) {
    if (auto impl = weak.lock())
      impl->grad = impl->grad.defined() ? tensor::add(impl->grad, grad) : grad.clone();
  });
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}

Tensor Tensor::detach() const { return Tensor(data()); }

void Tensor::register_hook(GradHook hook) {
  if (!requires_grad())
    throw std::invalid_argument("register_hook: the tensor does not require grad, so no "
                                "gradient will ever arrive");
  if (is_leaf())
    impl_->leaf_hooks.push_back(std::move(hook));
  else
    impl_->grad_fn->hooks.push_back(std::move(hook));
}

const std::string& Tensor::name() const {
  static const std::string none;
  return impl_ ? impl_->name : none;
}

Tensor& Tensor::set_name(const std::string& name) {
  impl_->name = name;
  if (impl_->grad_fn) impl_->grad_fn->name = name;
  if (auto accumulator = impl_->accumulator.lock()) accumulator->name = name;
  return *this;
}

std::string Tensor::to_string() const {
  if (!impl_) return "tensor(undefined)";
  std::string suffix;
  if (impl_->grad_fn)
    suffix = ", grad_fn=<" + impl_->grad_fn->op + ">";
  else if (impl_->requires_grad)
    suffix = ", requires_grad=true";
  if (!impl_->name.empty()) suffix += ", name=\"" + impl_->name + "\"";
  return tensor::format_array(impl_->data, suffix);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

// ---- methods forwarding to ops.hpp ---------------------------------------------------------------

Tensor Tensor::view(const Shape& s, Site site) const { return autograd::view(*this, s, site); }
Tensor Tensor::reshape(const Shape& s, Site site) const { return autograd::reshape(*this, s, site); }
Tensor Tensor::flatten(Site site) const { return autograd::reshape(*this, {-1}, site); }
Tensor Tensor::permute(const std::vector<std::int64_t>& dims, Site site) const {
  return autograd::permute(*this, dims, site);
}
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1, Site site) const {
  return autograd::transpose(*this, d0, d1, site);
}
Tensor Tensor::t(Site site) const {
  if (dim() != 2)
    throw std::invalid_argument("t: expects a 2-d tensor, got shape " +
                                tensor::shape_str(shape()) +
                                "; for a batch of matrices use transpose(-2, -1)");
  return autograd::transpose(*this, 0, 1, site);
}
Tensor Tensor::slice(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step,
                     Site site) const {
  return autograd::slice(*this, d, start, end, step, site);
}
Tensor Tensor::narrow(std::int64_t d, std::int64_t start, std::int64_t length, Site site) const {
  data().narrow(d, start, length);  // validates the range with narrow's own error message
  std::int64_t first = start < 0 ? start + size(d) : start;
  return autograd::slice(*this, d, first, first + length, 1, site);
}
Tensor Tensor::select(std::int64_t d, std::int64_t index, Site site) const {
  return autograd::select(*this, d, index, site);
}
Tensor Tensor::expand(const Shape& s, Site site) const { return autograd::expand(*this, s, site); }
Tensor Tensor::squeeze(Site site) const { return autograd::squeeze(*this, site); }
Tensor Tensor::squeeze(std::int64_t d, Site site) const { return autograd::squeeze(*this, d, site); }
Tensor Tensor::unsqueeze(std::int64_t d, Site site) const {
  return autograd::unsqueeze(*this, d, site);
}
Tensor Tensor::contiguous(Site site) const { return autograd::contiguous(*this, site); }
Tensor Tensor::clone(Site site) const { return autograd::clone(*this, site); }
Tensor Tensor::to(DType dtype, Site site) const { return autograd::to(*this, dtype, site); }
Tensor Tensor::to(Device device, Site site) const { return autograd::to(*this, device, site); }
Tensor Tensor::sum(const std::vector<std::int64_t>& dims, bool keepdim, Site site) const {
  return autograd::sum(*this, dims, keepdim, site);
}
Tensor Tensor::mean(const std::vector<std::int64_t>& dims, bool keepdim, Site site) const {
  return autograd::mean(*this, dims, keepdim, site);
}
Tensor Tensor::matmul(const Tensor& other, Site site) const {
  return autograd::matmul(*this, other, site);
}
Tensor Tensor::exp(Site site) const { return autograd::exp(*this, site); }
Tensor Tensor::log(Site site) const { return autograd::log(*this, site); }
Tensor Tensor::pow(double exponent, Site site) const {
  return autograd::pow(*this, exponent, site);
}
Tensor Tensor::softmax(std::int64_t d, Site site) const { return autograd::softmax(*this, d, site); }

// ---- factories -----------------------------------------------------------------------------------

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return Tensor(tensor::zeros(shape, dtype, device));
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return Tensor(tensor::ones(shape, dtype, device));
}
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  return Tensor(tensor::full(shape, value, dtype, device));
}
Tensor zeros_like(const Tensor& like) { return Tensor(tensor::zeros_like(like.data())); }
Tensor ones_like(const Tensor& like) { return Tensor(tensor::ones_like(like.data())); }
Tensor arange(std::int64_t end, DType dtype, Device device) {
  return Tensor(tensor::arange(end, dtype, device));
}
Tensor arange(double start, double end, double step, DType dtype, Device device) {
  return Tensor(tensor::arange(start, end, step, dtype, device));
}
Tensor eye(std::int64_t n, DType dtype, Device device) { return Tensor(tensor::eye(n, dtype, device)); }
Tensor rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return Tensor(tensor::rand(shape, gen, dtype, device));
}
Tensor randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return Tensor(tensor::randn(shape, gen, dtype, device));
}
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               Device device) {
  return Tensor(tensor::randint(low, high, shape, gen, device));
}
Tensor from_vector(const std::vector<float>& v, const Shape& s) {
  return Tensor(tensor::from_vector(v, s));
}
Tensor from_vector(const std::vector<double>& v, const Shape& s) {
  return Tensor(tensor::from_vector(v, s));
}
Tensor from_vector(const std::vector<std::int64_t>& v, const Shape& s) {
  return Tensor(tensor::from_vector(v, s));
}
Tensor from_vector(const std::vector<bool>& v, const Shape& s) {
  return Tensor(tensor::from_vector(v, s));
}
Tensor from_rows(std::initializer_list<std::initializer_list<double>> rows, DType dtype) {
  return Tensor(tensor::from_rows(rows, dtype));
}
Tensor scalar(double value, DType dtype, Device device) {
  return Tensor(tensor::scalar(value, dtype, device));
}

}  // namespace autograd
