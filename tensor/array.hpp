// array.hpp — tensor::Array, a strided N-d array with no notion of gradients.
//
// An Array is a small handle: (storage, shape, strides, offset, dtype). Element (i, j) of a
// 2-d array lives at storage[offset + i*strides[0] + j*strides[1]]. Copying an Array copies the
// handle, not the data; views (transpose, slice, expand, ...) return new handles over the same
// storage. autograd::Tensor wraps an Array and adds gradients on top.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.hpp"
#include "tensor/dtype.hpp"
#include "tensor/shape.hpp"
#include "tensor/storage.hpp"

namespace tensor {

class Array {
 public:
  Array() = default;  // an undefined array: defined() is false
  // A new contiguous array of the given shape; its elements are NOT initialised.
  explicit Array(const Shape& shape, DType dtype = DType::Float32, Device device = kCPU);
  // A view over existing storage.
  Array(std::shared_ptr<Storage> storage, Shape shape, Strides strides, std::int64_t offset,
        DType dtype);

  // ---- what it is -------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const;
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t dim) const;  // negative dims count from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // True when the elements are packed row-major with no gaps (strides == contiguous_strides).
  bool is_contiguous() const;
  // Address of the first element (storage + offset), for kernels. Typed access checks T.
  void* raw_data() const;
  template <typename T>
  T* data() const;

  // ---- views: share storage, copy nothing ------------------------------------------------
  Array view(Shape shape) const;      // needs compatible strides; one size may be -1
  Array reshape(Shape shape) const;   // a view when strides allow, a copy otherwise
  Array flatten() const;              // reshape({-1})
  Array permute(const std::vector<std::int64_t>& dims) const;
  Array transpose(std::int64_t dim0, std::int64_t dim1) const;
  Array t() const;                    // transpose of a 2-d array
  Array slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Array narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Array select(std::int64_t dim, std::int64_t index) const;  // removes dim
  Array expand(const Shape& shape) const;  // broadcast view: size-1 dims get stride 0
  Array squeeze() const;                   // drops every size-1 dim
  Array squeeze(std::int64_t dim) const;   // drops dim if its size is 1
  Array unsqueeze(std::int64_t dim) const; // inserts a size-1 dim

  // ---- copies ------------------------------------------------------------------------------
  Array contiguous() const;  // itself when already contiguous, else a packed copy
  Array clone() const;       // always a packed copy
  Array to(DType dtype) const;    // converted copy (itself when the dtype already matches)
  Array to(Device device) const;  // copy on another device (itself when already there)

  // ---- elements (any device: data is brought to the cpu when needed) ------------------------
  double item() const;  // the one element of a 1-element array, as double
  template <typename T>
  T item() const;
  double at(const std::vector<std::int64_t>& index) const;  // one element, as double
  template <typename T>
  std::vector<T> to_vector() const;  // all elements in row-major order

  // ---- in place (each bumps the storage's version) -----------------------------------------
  // These are const: like a shared_ptr, a const Array is a handle that cannot be re-pointed,
  // but the memory it points to can be written.
  const Array& fill_(double value) const;
  const Array& set(const std::vector<std::int64_t>& index, double value) const;
  const Array& copy_(const Array& src) const;  // src broadcast to this shape, converted
  const Array& add_(const Array& other, double alpha = 1.0) const;  // this += alpha * other
  const Array& mul_(double factor) const;

  std::string to_string() const;  // tensor([[1.0000, 2.0000], ...], shape=[2, 2], dtype=float32)

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  std::int64_t offset_ = 0;
  DType dtype_ = DType::Float32;
};

std::ostream& operator<<(std::ostream& os, const Array& array);

// PyTorch-style text: "tensor([[1.0000, 2.0000]], shape=[1, 2], dtype=float32<suffix>)".
// Arrays with more than 1000 elements are summarised with "..." (3 items at each edge).
std::string format_array(const Array& array, const std::string& suffix = "");

// Throws "op: expected an array on cpu, got cuda-sim" (used by code that touches raw memory).
void check_cpu(const Array& array, const char* op);

// ---- template definitions -------------------------------------------------------------------
template <typename T>
T* Array::data() const {
  if (dtype_of<T>() != dtype_)
    throw std::invalid_argument("data<T>: element type does not match dtype " +
                                dtype_name(dtype_));
  return static_cast<T*>(raw_data());
}

}  // namespace tensor
