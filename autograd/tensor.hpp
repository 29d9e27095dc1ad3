// tensor.hpp — autograd::Tensor: an Array plus what reverse-mode differentiation needs.
//
// A Tensor is a shared handle (copying it shares the same data, gradient and graph node, like a
// Python reference to a torch.Tensor). It holds
//   data()          the values, a tensor::Array (shape, strides, dtype, device)
//   requires_grad() whether gradients should flow to it
//   grad()          the gradient accumulated by backward() (leaves, or after retain_grad())
//   grad_fn()       the graph node of the op that produced it (null for leaves)
// Every op on Tensors is differentiable and lives in ops.hpp; the methods below forward to it.
// Each op takes a defaulted `site` argument: the compiler fills in the caller's file and line,
// and the graph node remembers it for error messages and debugging tools.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "tensor/array.hpp"
#include "tensor/random.hpp"

namespace autograd {

using tensor::Device;
using tensor::DType;
using tensor::Generator;
using tensor::kCPU;
using tensor::Shape;

struct TensorImpl {
  Array data;
  bool requires_grad = false;
  Array grad;                        // accumulated gradient; undefined until backward reaches it
  std::shared_ptr<Node> grad_fn;     // null for leaves
  std::weak_ptr<Node> accumulator;   // a leaf's accumulate_grad node, while a graph uses it
  std::string name;
  bool retains_grad = false;         // a non-leaf that keeps its gradient (retain_grad())
  std::vector<GradHook> leaf_hooks;  // hooks of a leaf (a non-leaf keeps them on grad_fn)
};

class Tensor {
 public:
  Tensor() = default;  // undefined
  explicit Tensor(Array data, bool requires_grad = false);

  // ---- what it is -------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Array& data() const;  // the values, without any gradient tracking
  const Shape& shape() const { return data().shape(); }
  std::int64_t dim() const { return data().dim(); }
  std::int64_t size(std::int64_t dim) const { return data().size(dim); }
  std::int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }
  Device device() const { return data().device(); }
  const tensor::Strides& strides() const { return data().strides(); }
  bool is_contiguous() const { return data().is_contiguous(); }

  // ---- gradients --------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves (tensors with no grad_fn)
  bool is_leaf() const;
  Tensor grad() const;            // undefined Tensor when no gradient has been accumulated
  void set_grad(const Array& grad);  // replace (or with an undefined Array, clear) the gradient
  void zero_grad();               // forget the accumulated gradient
  // Replaces the values of a leaf (same handle, so every copy of it sees the change); used to
  // move parameters between devices or dtypes. Not allowed on tensors computed by an op.
  void set_data(const Array& data);
  void retain_grad();             // keep the gradient of a non-leaf after backward
  const std::shared_ptr<Node>& grad_fn() const;
  // Computes gradients of this tensor with respect to every leaf that requires grad, and adds
  // them into those leaves' grad(). A non-scalar tensor needs an explicit `gradient` of its own
  // shape. The graph is freed afterwards unless retain_graph is true.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;          // same data, cut from the graph, requires_grad false
  // Calls hook(grad) with the gradient arriving for this tensor during backward; the hook may
  // change it (e.g. clip it, or record it).
  void register_hook(GradHook hook);
  const std::string& name() const;
  Tensor& set_name(const std::string& name);  // shown by printing and graph tools

  // ---- elements ---------------------------------------------------------------------------
  double item() const { return data().item(); }
  double at(const std::vector<std::int64_t>& index) const { return data().at(index); }
  template <typename T>
  std::vector<T> to_vector() const {
    return data().to_vector<T>();
  }

  // ---- differentiable views and copies (see ops.hpp) ----------------------------------------
  Tensor view(const Shape& shape, Site site = Site::current()) const;
  Tensor reshape(const Shape& shape, Site site = Site::current()) const;
  Tensor flatten(Site site = Site::current()) const;
  Tensor permute(const std::vector<std::int64_t>& dims, Site site = Site::current()) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1, Site site = Site::current()) const;
  Tensor t(Site site = Site::current()) const;
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1,
               Site site = Site::current()) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length,
                Site site = Site::current()) const;
  Tensor select(std::int64_t dim, std::int64_t index, Site site = Site::current()) const;
  Tensor expand(const Shape& shape, Site site = Site::current()) const;
  Tensor squeeze(Site site = Site::current()) const;
  Tensor squeeze(std::int64_t dim, Site site = Site::current()) const;
  Tensor unsqueeze(std::int64_t dim, Site site = Site::current()) const;
  Tensor contiguous(Site site = Site::current()) const;
  Tensor clone(Site site = Site::current()) const;
  Tensor to(DType dtype, Site site = Site::current()) const;
  Tensor to(Device device, Site site = Site::current()) const;

  // ---- common math as methods -------------------------------------------------------------
  Tensor sum(const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
             Site site = Site::current()) const;
  Tensor mean(const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
              Site site = Site::current()) const;
  Tensor matmul(const Tensor& other, Site site = Site::current()) const;
  Tensor exp(Site site = Site::current()) const;
  Tensor log(Site site = Site::current()) const;
  Tensor pow(double exponent, Site site = Site::current()) const;
  Tensor softmax(std::int64_t dim, Site site = Site::current()) const;

  std::string to_string() const;  // like PyTorch, with requires_grad / grad_fn shown

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// The graph nodes behind `root`, in the order backward() visits them: newest first, so every
// node comes after all the nodes that use its output (a reverse topological order).
std::vector<std::shared_ptr<Node>> backward_order(const Tensor& root);

// ---- making tensors -------------------------------------------------------------------------
// All return leaves with requires_grad false; chain .requires_grad_() for parameters.
Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = kCPU);
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = kCPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = kCPU);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor arange(std::int64_t end, DType dtype = DType::Int64, Device device = kCPU);
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::Int64,
              Device device = kCPU);
Tensor eye(std::int64_t n, DType dtype = DType::Float32, Device device = kCPU);
Tensor rand(const Shape& shape, Generator& gen = tensor::default_generator(), DType dtype = DType::Float32,
            Device device = kCPU);
Tensor randn(const Shape& shape, Generator& gen = tensor::default_generator(), DType dtype = DType::Float32,
             Device device = kCPU);
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               Generator& gen = tensor::default_generator(), Device device = kCPU);
Tensor from_vector(const std::vector<float>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<bool>& values, const Shape& shape = {});
Tensor from_rows(std::initializer_list<std::initializer_list<double>> rows,
                 DType dtype = DType::Float32);
Tensor scalar(double value, DType dtype = DType::Float32, Device device = kCPU);

}  // namespace autograd
