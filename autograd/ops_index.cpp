// ops_index.cpp — differentiable indexing, joining and masking: index_select, gather,
// scatter_add, embedding, cat/stack/split/chunk, masked_fill, where, tril/triu, clamp.
#include <limits>
#include <stdexcept>

#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/factory.hpp"
#include "tensor/nn_ops.hpp"
#include "tensor/ops.hpp"

namespace autograd {

// ---- indexing ----------------------------------------------------------------------------------

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index, Site site) {
  Array y = tensor::index_select(x.data(), dim, index.data());
  std::int64_t d = tensor::normalize_dim(dim, x.dim(), "index_select");
  Array idx = index.data();
  Shape input_shape = x.shape();
  return record("index_select", site, y, {x}, [idx, d, input_shape](const Array& g) -> Grads {
    // Each selected slice sends its gradient back to where it came from; a position selected
    // twice receives both. index_select along d == embedding of the [S, rest] view.
    Array g_front = g.transpose(0, d).contiguous();
    Shape front_shape = g_front.shape();
    Array dx_front = tensor::embedding_backward(g_front.reshape({g_front.size(0), -1}), idx,
                                                input_shape[d]);
    front_shape[0] = input_shape[d];
    return {dx_front.view(front_shape).transpose(0, d)};
  });
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index, Site site) {
  Array y = tensor::gather(x.data(), dim, index.data());
  Array idx = index.data();
  Shape input_shape = x.shape();
  return record("gather", site, y, {x}, [idx, dim, input_shape](const Array& g) -> Grads {
    // out[i][j] = x[i][index[i][j]]  =>  dx[i][index[i][j]] += g[i][j]
    Array zeros = tensor::zeros(input_shape, g.dtype(), g.device());
    return {tensor::scatter_add(zeros, dim, idx, g)};
  });
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                   Site site) {
  Array y = tensor::scatter_add(x.data(), dim, index.data(), src.data());
  Array idx = index.data();
  return record("scatter_add", site, y, {x, index, src}, [idx, dim](const Array& g) -> Grads {
    // y = x + (src placed at index)  =>  dx = g, dsrc[i][j] = g[i][index[i][j]]
    return {g, Array(), tensor::gather(g, dim, idx)};
  });
}

Tensor embedding(const Tensor& weight, const Tensor& indices, Site site) {
  Array y = tensor::embedding(weight.data(), indices.data());
  Array idx = indices.data();
  std::int64_t rows = weight.size(0);
  return record("embedding", site, y, {weight}, [idx, rows](const Array& g) -> Grads {
    // out[i] = weight[indices[i]]  =>  dweight[indices[i]] += g[i] (repeats add up)
    return {tensor::embedding_backward(g, idx, rows)};
  });
}

// ---- joining and splitting ---------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim, Site site) {
  std::vector<Array> arrays;
  for (const Tensor& t : tensors) arrays.push_back(t.data());
  Array y = tensor::cat(arrays, dim);
  std::int64_t d = tensor::normalize_dim(dim, tensors.at(0).dim(), "cat");
  std::vector<std::int64_t> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.size(d));
  return record("cat", site, y, tensors, [sizes, d](const Array& g) -> Grads {
    // Each input gets back the slice of the gradient where it was placed.
    Grads grads;
    std::int64_t offset = 0;
    for (std::int64_t size : sizes) {
      grads.push_back(g.narrow(d, offset, size));
      offset += size;
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim, Site site) {
  if (tensors.empty()) throw std::invalid_argument("stack: needs at least one tensor");
  std::int64_t d = tensor::normalize_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].shape() != tensors[0].shape())
      throw std::invalid_argument("stack: tensor " + std::to_string(i) + " has shape " +
                                  tensor::shape_str(tensors[i].shape()) + ", expected " +
                                  tensor::shape_str(tensors[0].shape()));
    expanded.push_back(unsqueeze(tensors[i], d, site));
  }
  return cat(expanded, d, site);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                     std::int64_t dim, Site site) {
  std::int64_t d = tensor::normalize_dim(dim, x.dim(), "split");
  std::int64_t total = 0;
  for (std::int64_t s : sizes) total += s;
  if (total != x.size(d))
    throw std::invalid_argument("split: sizes add up to " + std::to_string(total) +
                                " but dim " + std::to_string(d) + " has size " +
                                std::to_string(x.size(d)));
  std::vector<Tensor> pieces;
  std::int64_t offset = 0;
  for (std::int64_t s : sizes) {
    pieces.push_back(slice(x, d, offset, offset + s, 1, site));
    offset += s;
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim, Site site) {
  if (split_size <= 0) throw std::invalid_argument("split: split_size must be positive");
  std::int64_t d = tensor::normalize_dim(dim, x.dim(), "split");
  std::vector<std::int64_t> sizes;
  for (std::int64_t offset = 0; offset < x.size(d); offset += split_size)
    sizes.push_back(std::min(split_size, x.size(d) - offset));
  return split_with_sizes(x, sizes, d, site);
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim, Site site) {
  if (chunks <= 0) throw std::invalid_argument("chunk: chunks must be positive");
  std::int64_t d = tensor::normalize_dim(dim, x.dim(), "chunk");
  std::int64_t size = (x.size(d) + chunks - 1) / chunks;
  return split(x, std::max<std::int64_t>(size, 1), d, site);
}

// ---- masking and clamping ----------------------------------------------------------------------

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value, Site site) {
  if (mask.dtype() != DType::Bool)
    throw std::invalid_argument("masked_fill: the mask must be a bool tensor, got " +
                                tensor::dtype_name(mask.dtype()));
  Array m = mask.data();
  Array filled = tensor::scalar_like(x.data(), value);
  Array y = tensor::where(m, filled, x.data());
  if (y.shape() != x.shape())
    throw std::invalid_argument("masked_fill: mask of shape " + tensor::shape_str(m.shape()) +
                                " does not broadcast to the input's shape " +
                                tensor::shape_str(x.shape()));
  return record("masked_fill", site, y, {x}, [m](const Array& g) -> Grads {
    // Filled positions no longer depend on x.
    return {tensor::where(m, tensor::scalar_like(g, 0.0), g)};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, Site site) {
  Array c = cond.data();
  Array y = tensor::where(c, a.data(), b.data());
  return record("where", site, y, {cond, a, b}, [c](const Array& g) -> Grads {
    Array zero = tensor::scalar_like(g, 0.0);
    return {Array(), tensor::where(c, g, zero), tensor::where(c, zero, g)};
  });
}

Tensor tril(const Tensor& x, std::int64_t diagonal, Site site) {
  Array y = tensor::tril(x.data(), diagonal);
  return record("tril", site, y, {x}, [diagonal](const Array& g) -> Grads {
    return {tensor::tril(g, diagonal)};  // kept elements pass their gradient, zeroed ones don't
  });
}

Tensor triu(const Tensor& x, std::int64_t diagonal, Site site) {
  Array y = tensor::triu(x.data(), diagonal);
  return record("triu", site, y, {x}, [diagonal](const Array& g) -> Grads {
    return {tensor::triu(g, diagonal)};
  });
}

Tensor clamp(const Tensor& x, double min, double max, Site site) {
  if (min > max)
    throw std::invalid_argument("clamp: min " + std::to_string(min) + " is larger than max " +
                                std::to_string(max));
  Array lo = tensor::scalar_like(x.data(), min), hi = tensor::scalar_like(x.data(), max);
  Array y = tensor::minimum(tensor::maximum(x.data(), lo), hi);
  SavedArray saved_x(x.data(), "clamp");
  return record("clamp", site, y, {x}, [saved_x, lo, hi](const Array& g) -> Grads {
    const Array& x = saved_x.get();
    Array inside = tensor::logical_and(tensor::ge(x, lo), tensor::le(x, hi));
    return {tensor::where(inside, g, tensor::scalar_like(g, 0.0))};
  });
}

Tensor clamp_min(const Tensor& x, double min, Site site) {
  return clamp(x, min, std::numeric_limits<double>::infinity(), site);
}

Tensor clamp_max(const Tensor& x, double max, Site site) {
  return clamp(x, -std::numeric_limits<double>::infinity(), max, site);
}

}  // namespace autograd
