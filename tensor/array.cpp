#include "tensor/array.hpp"

#include <algorithm>
#include <cstring>
#include <ostream>
#include <stdexcept>

#include "tensor/backend.hpp"
#include "tensor/error.hpp"
#include "tensor/ops.hpp"

namespace tensor {

namespace {

// Python-style index: -1 is the last element. Throws if out of [0, size).
std::int64_t normalize_index(std::int64_t index, std::int64_t size, const char* op,
                             std::int64_t dim) {
  std::int64_t i = index < 0 ? index + size : index;
  if (i < 0 || i >= size)
    throw std::out_of_range(std::string(op) + ": index " + std::to_string(index) +
                            " out of range for dim " + std::to_string(dim) + " of size " +
                            std::to_string(size));
  return i;
}

// Replaces a single -1 in `shape` by the size that makes the element count equal `numel`.
Shape infer_size(Shape shape, std::int64_t numel, const char* op) {
  std::int64_t known = 1, infer_at = -1;
  bool overflowed = false, has_zero = false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer_at >= 0) throw error(op, "only one dimension can be -1 in " + shape_str(shape));
      infer_at = static_cast<std::int64_t>(i);
    } else if (shape[i] < 0) {
      throw error(op, "invalid size " + std::to_string(shape[i]) + " in " + shape_str(shape));
    } else {
      has_zero = has_zero || shape[i] == 0;
      overflowed = overflowed || __builtin_mul_overflow(known, shape[i], &known);
    }
  }
  // A product past int64 cannot equal numel (which fits) unless a zero size makes it 0.
  if (overflowed && has_zero) known = 0;
  if (overflowed && !has_zero)
    throw error(op, "shape " + shape_str(shape) + " is invalid for " + std::to_string(numel) +
                        " elements (its size overflows 64 bits)");
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0)
      throw error(op, "shape " + shape_str(shape) + " is invalid for " + std::to_string(numel) +
                          " elements");
    shape[infer_at] = numel / known;
  } else if (known != numel) {
    throw error(op, "shape " + shape_str(shape) + " is invalid for " + std::to_string(numel) +
                        " elements");
  }
  return shape;
}

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), or an empty
// optional-like result (ok=false) when no such strides exist. Dims of the old shape form
// "chunks" that are contiguous with each other; a view may split and merge dims only inside a
// chunk, never across a gap in memory.
bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape,
                  Strides& new_strides) {
  new_strides.assign(new_shape.size(), 0);
  if (old_shape.empty() || shape_numel(old_shape) == 0) {
    new_strides = contiguous_strides(new_shape);
    return true;
  }
  std::int64_t view_d = static_cast<std::int64_t>(new_shape.size()) - 1;
  std::int64_t chunk_base_stride = old_strides.back();
  std::int64_t old_numel = 1, new_numel = 1;
  for (std::int64_t old_d = static_cast<std::int64_t>(old_shape.size()) - 1; old_d >= 0;
       --old_d) {
    old_numel *= old_shape[old_d];
    bool chunk_ends = old_d == 0 || (old_shape[old_d - 1] != 1 &&
                                     old_strides[old_d - 1] != old_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (new_numel < old_numel || new_shape[view_d] == 1)) {
      new_strides[view_d] = new_numel * chunk_base_stride;
      new_numel *= new_shape[view_d];
      --view_d;
    }
    if (new_numel != old_numel) return false;
    if (old_d > 0) {
      chunk_base_stride = old_strides[old_d - 1];
      old_numel = 1;
      new_numel = 1;
    }
  }
  return view_d == -1;
}

}  // namespace

// ---- construction ------------------------------------------------------------------------------

Array::Array(const Shape& shape, DType dtype, Device device)
    : shape_(shape), strides_(contiguous_strides(shape)), dtype_(dtype) {
  check_shape(shape, "Array");
  // Every stride * itemsize of this array and of any view of it fits in int64 (shape.hpp).
  layout_span_bytes(shape, dtype_size(dtype), "Array");
  storage_ = std::make_shared<Storage>(
      static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype), device);
}

Array::Array(std::shared_ptr<Storage> storage, Shape shape, Strides strides, std::int64_t offset,
             DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

Device Array::device() const { return storage_ ? storage_->device() : kCPU; }

std::int64_t Array::size(std::int64_t d) const { return shape_[normalize_dim(d, dim(), "size")]; }

bool Array::is_contiguous() const {
  if (numel() == 0) return true;  // no elements: nothing can be out of place
  std::int64_t expected = 1;
  for (std::int64_t d = dim() - 1; d >= 0; --d) {
    if (shape_[d] == 1) continue;  // the stride of a size-1 dim never matters
    if (strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

void* Array::raw_data() const {
  if (!storage_) throw std::logic_error("raw_data: the array is undefined");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

// ---- views -------------------------------------------------------------------------------------

Array Array::view(Shape shape) const {
  shape = infer_size(std::move(shape), numel(), "view");
  Strides strides;
  if (!view_strides(shape_, strides_, shape, strides))
    throw error("view", "cannot view a tensor of shape " + shape_str(shape_) + " with strides " +
                            shape_str(strides_) + " as " + shape_str(shape) +
                            " without copying; use reshape() (which copies) or call "
                            "contiguous() first");
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::reshape(Shape shape) const {
  shape = infer_size(std::move(shape), numel(), "reshape");
  Strides strides;
  if (view_strides(shape_, strides_, shape, strides))
    return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
  return clone().view(shape);
}

Array Array::flatten() const { return reshape({-1}); }

Array Array::permute(const std::vector<std::int64_t>& dims) const {
  if (static_cast<std::int64_t>(dims.size()) != dim())
    throw error("permute", "got " + std::to_string(dims.size()) + " dims for a " +
                               std::to_string(dim()) + "-d tensor of shape " + shape_str(shape_));
  Shape shape(dims.size());
  Strides strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    std::int64_t d = normalize_dim(dims[i], dim(), "permute");
    if (seen[d]) throw error("permute", "dim " + std::to_string(dims[i]) + " appears twice");
    seen[d] = true;
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::transpose(std::int64_t dim0, std::int64_t dim1) const {
  std::int64_t d0 = normalize_dim(dim0, dim(), "transpose");
  std::int64_t d1 = normalize_dim(dim1, dim(), "transpose");
  Shape shape = shape_;
  Strides strides = strides_;
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::t() const {
  if (dim() != 2)
    throw error("t", "expects a 2-d tensor, got shape " + shape_str(shape_) +
                         "; for batches use transpose(-2, -1)");
  return transpose(0, 1);
}

Array Array::slice(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step) const {
  d = normalize_dim(d, dim(), "slice");
  if (step <= 0) throw error("slice", "step must be positive, got " + std::to_string(step));
  std::int64_t size = shape_[d];
  // Python semantics: negative bounds count from the end, out-of-range bounds are clamped.
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<std::int64_t>(start, 0, size);
  end = std::clamp<std::int64_t>(end, start, size);
  // A step beyond the size takes only the first element, as the size does: the smaller one keeps
  // the arithmetic below (and the new stride) from overflowing.
  step = std::min(step, std::max<std::int64_t>(size, 1));
  Shape shape = shape_;
  Strides strides = strides_;
  shape[d] = (end - start + step - 1) / step;
  strides[d] = strides_[d] * step;
  return Array(storage_, std::move(shape), std::move(strides), offset_ + start * strides_[d],
               dtype_);
}

Array Array::narrow(std::int64_t d, std::int64_t start, std::int64_t length) const {
  d = normalize_dim(d, dim(), "narrow");
  if (start < 0) start += shape_[d];
  if (start < 0 || length < 0 || start + length > shape_[d])
    throw std::out_of_range("narrow: start " + std::to_string(start) + " and length " +
                            std::to_string(length) + " exceed dim " + std::to_string(d) +
                            " of size " + std::to_string(shape_[d]) + " in " + shape_str(shape_));
  return slice(d, start, start + length);
}

Array Array::select(std::int64_t d, std::int64_t index) const {
  d = normalize_dim(d, dim(), "select");
  index = normalize_index(index, shape_[d], "select", d);
  Shape shape = shape_;
  Strides strides = strides_;
  std::int64_t offset = offset_ + index * strides_[d];
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Array(storage_, std::move(shape), std::move(strides), offset, dtype_);
}

Array Array::expand(const Shape& target) const {
  if (target.size() < shape_.size())
    throw error("expand", "cannot expand shape " + shape_str(shape_) + " to " +
                              shape_str(target) + " with fewer dims");
  std::size_t lead = target.size() - shape_.size();
  Shape shape(target.size());
  Strides strides(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {  // new leading dims: every index maps to the same memory
      if (target[i] < 0) throw error("expand", "-1 is not allowed for new leading dims");
      shape[i] = target[i];
      strides[i] = 0;
      continue;
    }
    std::int64_t old_size = shape_[i - lead], size = target[i] == -1 ? old_size : target[i];
    if (old_size == size) {
      shape[i] = size;
      strides[i] = strides_[i - lead];
    } else if (old_size == 1) {
      shape[i] = size;
      strides[i] = 0;
    } else {
      throw error("expand", "cannot expand shape " + shape_str(shape_) + " to " +
                                shape_str(target) + " (dim " + std::to_string(i) + ": size " +
                                std::to_string(old_size) + " is not 1)");
    }
  }
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::squeeze() const {
  Shape shape;
  Strides strides;
  for (std::int64_t d = 0; d < dim(); ++d)
    if (shape_[d] != 1) {
      shape.push_back(shape_[d]);
      strides.push_back(strides_[d]);
    }
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::squeeze(std::int64_t d) const {
  d = normalize_dim(d, dim(), "squeeze");
  if (shape_[d] != 1) return *this;  // as in PyTorch: squeezing a dim of size > 1 is a no-op
  Shape shape = shape_;
  Strides strides = strides_;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Array Array::unsqueeze(std::int64_t d) const {
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape shape = shape_;
  Strides strides = strides_;
  // Any stride works for a size-1 dim; this one keeps a contiguous array contiguous.
  std::int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Array(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

// ---- copies ------------------------------------------------------------------------------------

Array Array::contiguous() const { return is_contiguous() ? *this : clone(); }

Array Array::clone() const {
  Array out(shape_, dtype_, device());
  backend(device()).copy(*this, out);
  return out;
}

Array Array::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Array out(shape_, dtype, device());
  backend(device()).copy(*this, out);
  return out;
}

Array Array::to(Device target) const {
  if (target == device()) return *this;
  Array src = contiguous();
  Array out(shape_, dtype_, target);
  std::size_t nbytes = static_cast<std::size_t>(numel()) * dtype_size(dtype_);
  if (nbytes == 0) return out;
  if (src.device() == kCPU) {
    backend(target).copy_from_host(out.raw_data(), src.raw_data(), nbytes);
  } else if (target == kCPU) {
    backend(src.device()).copy_to_host(out.raw_data(), src.raw_data(), nbytes);
  } else {  // device to another device: through the host
    Array host = src.to(kCPU);
    backend(target).copy_from_host(out.raw_data(), host.raw_data(), nbytes);
  }
  return out;
}

// ---- elements ----------------------------------------------------------------------------------

double Array::item() const {
  if (numel() != 1)
    throw error("item", "needs exactly one element, the tensor has shape " + shape_str(shape_) +
                            " (" + std::to_string(numel()) + " elements)");
  Array host = to(kCPU).to(DType::Float64);
  return *static_cast<const double*>(host.raw_data());
}

template <typename T>
T Array::item() const {
  return to_vector<T>().at(0);
}

double Array::at(const std::vector<std::int64_t>& index) const {
  if (static_cast<std::int64_t>(index.size()) != dim())
    throw error("at", "got " + std::to_string(index.size()) + " indices for a " +
                          std::to_string(dim()) + "-d tensor of shape " + shape_str(shape_));
  Array element = *this;
  for (std::int64_t i : index) element = element.select(0, i);
  return element.item();
}

template <typename T>
std::vector<T> Array::to_vector() const {
  Array host = to(kCPU).to(dtype_of<T>()).contiguous();
  std::vector<T> values(static_cast<std::size_t>(numel()));
  if (!values.empty()) std::memcpy(values.data(), host.raw_data(), values.size() * sizeof(T));
  return values;
}

template float Array::item<float>() const;
template double Array::item<double>() const;
template std::int64_t Array::item<std::int64_t>() const;
template std::vector<float> Array::to_vector<float>() const;
template std::vector<double> Array::to_vector<double>() const;
template std::vector<std::int64_t> Array::to_vector<std::int64_t>() const;

template <>
bool Array::item<bool>() const {
  return item() != 0.0;
}

template <>
std::vector<bool> Array::to_vector<bool>() const {
  std::vector<std::int64_t> values = to_vector<std::int64_t>();
  return std::vector<bool>(values.begin(), values.end());
}

// ---- in place ----------------------------------------------------------------------------------

const Array& Array::fill_(double value) const {
  backend(device()).fill(*this, value);
  storage_->bump_version();
  return *this;
}

const Array& Array::set(const std::vector<std::int64_t>& index, double value) const {
  if (static_cast<std::int64_t>(index.size()) != dim())
    throw error("set", "got " + std::to_string(index.size()) + " indices for a " +
                           std::to_string(dim()) + "-d tensor of shape " + shape_str(shape_));
  Array element = *this;
  for (std::int64_t i : index) element = element.select(0, i);
  element.fill_(value);
  storage_->bump_version();
  return *this;
}

const Array& Array::copy_(const Array& src) const {
  Array source = src.to(device());
  // Reading and writing the same memory through different views would read values that were
  // already overwritten: take a private copy first.
  if (source.storage() == storage_) source = source.clone();
  backend(device()).copy(source.expand(shape_), *this);
  storage_->bump_version();
  return *this;
}

const Array& Array::add_(const Array& other, double alpha) const {
  Array addend = other.to(device()).to(dtype_);
  if (alpha != 1.0) addend = mul(addend, scalar_like(*this, alpha));
  if (addend.storage() == storage_) addend = addend.clone();
  backend(device()).binary(BinaryOp::Add, *this, addend.expand(shape_), *this);
  storage_->bump_version();
  return *this;
}

const Array& Array::mul_(double factor) const {
  backend(device()).binary(BinaryOp::Mul, *this, scalar_like(*this, factor).expand(shape_),
                           *this);
  storage_->bump_version();
  return *this;
}

void check_cpu(const Array& array, const char* op) {
  if (array.device() != kCPU)
    throw std::invalid_argument(std::string(op) + ": expected an array on cpu, got " +
                                array.device().str() + " (move it with .to(kCPU))");
}

std::ostream& operator<<(std::ostream& os, const Array& array) { return os << array.to_string(); }

}  // namespace tensor
